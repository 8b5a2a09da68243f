"""The secret that lets a browser read or delete its own conversation.

A conversation id alone unlocks nothing: REST clients often choose guessable ids. The
first reply of a new conversation carries a token (header X-Conversation-Token, or
{"token"} on the WebSocket): an HMAC of the id and the conversation's random salt under
the server's session secret. History and deletion need it; a conversation deleted and
started again under the same id gets a new salt, so an old token stops working.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException

from bot.agent import Agent

TOKEN_HEADER = "X-Conversation-Token"


def _sign(secret: str, sender_id: str, salt: str) -> str:
    message = f"conversation:{sender_id}:{salt}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def issue(agent: Agent, sender_id: str) -> str | None:
    """The token of a stored conversation (None when it does not exist)."""
    salt = await agent.in_db(agent.store.token_salt, sender_id)
    return _sign(agent.settings.session_secret, sender_id, salt) if salt else None


async def check(agent: Agent, sender_id: str, token: str | None) -> None:
    """Refuse unless `token` is the conversation's.

    Raises:
        HTTPException: 404 for a wrong or missing token and for an unknown conversation
            alike (the answer does not tell whether a conversation exists).
    """
    expected = await issue(agent, sender_id)
    if not token or expected is None or not hmac.compare_digest(token, expected):
        raise HTTPException(404, "No conversation with this id and token. The token is "
                                 f"sent in the {TOKEN_HEADER} header of the conversation's "
                                 "first reply.")
