"""The secret that makes a conversation its starter's: only they can continue, read or delete it.

A conversation id alone unlocks nothing: REST clients often choose guessable ids, and an id
shows in logs and URLs. The reply that starts a conversation carries its token (header
X-Conversation-Token, or {"token"} on the WebSocket): an HMAC of the id and the
conversation's random salt under the server's session secret. Every later message, the
history and deletion need it. An unknown id starts a new conversation with a new token; a
known id without its token is refused exactly as an unknown one is, so the answer does not
tell whether a conversation exists. A conversation deleted and started again under the same
id gets a new salt, so an old token stops working.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException

from bot.agent import Agent

TOKEN_HEADER = "X-Conversation-Token"
REFUSED = ("No conversation with this id and token. Send the token from the "
           f"{TOKEN_HEADER} header of the conversation's first reply, or start a new "
           "conversation under a new id.")


def _sign(secret: str, sender_id: str, salt: str) -> str:
    message = f"conversation:{sender_id}:{salt}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def refused() -> HTTPException:
    """The one answer to a wrong token, a missing token and an unknown conversation."""
    return HTTPException(404, REFUSED)


async def issue(agent: Agent, sender_id: str) -> str | None:
    """The token of a stored conversation (None when it does not exist)."""
    salt = await agent.in_db(agent.store.token_salt, sender_id)
    return _sign(agent.settings.session_secret, sender_id, salt) if salt else None


async def check(agent: Agent, sender_id: str, token: str | None) -> None:
    """Refuse unless `token` is the conversation's.

    Raises:
        HTTPException: 404 for a wrong or missing token and for an unknown conversation
            alike.
    """
    expected = await issue(agent, sender_id)
    if not token or expected is None or not hmac.compare_digest(token, expected):
        raise refused()


async def admit(agent: Agent, sender_id: str, token: str | None) -> str | None:
    """Let a message into conversation `sender_id`; the new token when it starts one.

    With a token, the conversation must exist and the token be its own. Without one, the
    message starts the conversation, which only works when the id is not taken: of two
    first messages sent at once, one starts it and the other is refused.

    Raises:
        HTTPException: 404, as `check` does, for a taken id without its token.
    """
    if token:
        await check(agent, sender_id, token)
        return None
    salt = await agent.in_db(agent.store.claim, sender_id)
    if salt is None:
        raise refused()
    return _sign(agent.settings.session_secret, sender_id, salt)
