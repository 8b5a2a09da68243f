"""The secret that makes a conversation its starter's: only they can continue, read or delete it.

A conversation id alone unlocks nothing: REST clients often choose guessable ids, and an id
shows in logs and URLs. Every message after the first, the history and deletion carry the
conversation's token (header X-Conversation-Token, or "token" in a WebSocket frame). The
token is either
- chosen by the client and sent with the first message (what the widget does: a reply lost
  to a dropped connection can then be asked for again), kept as its SHA-256 only; or
- issued by the server when the first message has none, in that message's reply: an HMAC
  of the id and the conversation's random salt under the server's session secret.
A known id with a missing or wrong token is refused exactly as an unknown one is, so the
answer does not tell whether a conversation exists. A conversation deleted and started again
under the same id gets a new salt, so an old token stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from fastapi import HTTPException

from bot.agent import Agent

TOKEN_HEADER = "X-Conversation-Token"
# A token a client chooses: at least 128 random bits written in URL-safe characters.
CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
REFUSED = ("No conversation with this id and token. Send the token of the conversation (the "
           f"{TOKEN_HEADER} of its first reply, or the one your client chose) with every "
           "message, or start a new conversation under a new id.")
BAD_TOKEN = ("The conversation token must be 32 to 128 letters, digits, '-' or '_' (for "
             "example 32 random bytes in hex); found {length} characters. Leave it out of "
             "the first message to have one issued.")


def _sign(secret: str, sender_id: str, salt: str) -> str:
    message = f"conversation:{sender_id}:{salt}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refused() -> HTTPException:
    """The one answer to a wrong token, a missing token and an unknown conversation."""
    return HTTPException(404, REFUSED)


def _well_formed(token: str) -> None:
    if not CLIENT_TOKEN.match(token):
        raise HTTPException(422, BAD_TOKEN.format(length=len(token)))


def _matches(agent: Agent, sender_id: str, token: str,
             secrets: tuple[str | None, str | None] | None) -> bool:
    if secrets is None:
        return False
    salt, token_hash = secrets
    if token_hash:
        return hmac.compare_digest(_digest(token), token_hash)
    return bool(salt) and hmac.compare_digest(
        token, _sign(agent.settings.session_secret, sender_id, str(salt)))


async def check(agent: Agent, sender_id: str, token: str | None) -> None:
    """Refuse unless `token` is the conversation's.

    Raises:
        HTTPException: 404 for a wrong or missing token and for an unknown conversation
            alike.
    """
    if not token:
        raise refused()
    secrets = await agent.in_db(agent.store.token_secrets, sender_id)
    if not _matches(agent, sender_id, token, secrets):
        raise refused()


async def admit(agent: Agent, sender_id: str, token: str | None) -> str | None:
    """Let a message into conversation `sender_id`; its token when the message starts it.

    A known id needs its token. An unknown id starts a conversation: with the token the
    client chose, or with one issued now. Of two first messages sent at once under one id,
    one starts the conversation and the other needs its token like any later message.

    Raises:
        HTTPException: 404, as `check` does, for a known id without its token; 422 for a
            token that is not 32 to 128 URL-safe characters.
    """
    if token:
        _well_formed(token)
        secrets = await agent.in_db(agent.store.token_secrets, sender_id)
        if secrets is None:
            if await agent.in_db(agent.store.claim, sender_id, _digest(token)) is not None:
                return token
            # Another message started it just now: its secrets decide.
            secrets = await agent.in_db(agent.store.token_secrets, sender_id)
        if not _matches(agent, sender_id, token, secrets):
            raise refused()
        return None
    salt = await agent.in_db(agent.store.claim, sender_id)
    if not salt:
        raise refused()
    return _sign(agent.settings.session_secret, sender_id, salt)
