"""What a Rasa REST client does to continue its conversations: keep each one's token.

The reply that starts a conversation carries X-Conversation-Token; every later message of
that conversation sends it back. `TokenJar` does this for an httpx client (also FastAPI's
TestClient) through event hooks, so a test reads like a chat.
"""

from __future__ import annotations

import json

import httpx

TOKEN_HEADER = "X-Conversation-Token"
WEBHOOK = "/webhooks/rest/webhook"


def _sender(request: httpx.Request) -> str | None:
    """The conversation a chat message is for (None for other requests)."""
    if not request.url.path.endswith(WEBHOOK):
        return None
    try:
        body = json.loads(request.content or b"null")
    except Exception:  # a streamed body (not read yet), or no JSON: not a chat message
        return None
    return body.get("sender") if isinstance(body, dict) else None


class TokenJar:
    """The tokens of the conversations a client started, sent back with their messages.

    Only chat messages: history and deletion are left to the test, which names its header.
    """

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def _on_request(self, request: httpx.Request) -> None:
        sender = _sender(request)
        if sender in self.tokens and TOKEN_HEADER not in request.headers:
            request.headers[TOKEN_HEADER] = self.tokens[sender]

    def _on_response(self, response: httpx.Response) -> None:
        issued = response.headers.get(TOKEN_HEADER)
        sender = _sender(response.request)
        if issued and sender:
            self.tokens[sender] = issued

    async def _on_request_async(self, request: httpx.Request) -> None:
        self._on_request(request)

    async def _on_response_async(self, response: httpx.Response) -> None:
        self._on_response(response)

    def install(self, client: httpx.Client | httpx.AsyncClient) -> TokenJar:
        """Make `client` keep and send tokens; returns the jar."""
        if isinstance(client, httpx.AsyncClient):
            hooks = {"request": [self._on_request_async], "response": [self._on_response_async]}
        else:
            hooks = {"request": [self._on_request], "response": [self._on_response]}
        client.event_hooks = {name: [*client.event_hooks.get(name, []), *added]
                              for name, added in hooks.items()}
        return self


def keeping_tokens(client: httpx.Client | httpx.AsyncClient):
    """`client`, made to keep its conversations' tokens (see TokenJar)."""
    TokenJar().install(client)
    return client
