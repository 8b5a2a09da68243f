"""What a REST client does to continue its conversations: send each one's token.

As the widget does, the client chooses a random token for each new conversation and sends
it (header X-Conversation-Token) with every message, the first included, so a first reply
lost to a dropped connection can be asked for again. `TokenJar` does this for an httpx
client (also FastAPI's TestClient) through event hooks, so a test reads like a chat; with
`choose=False` it sends none with the first message and keeps the token the server issues.
"""

from __future__ import annotations

import json
import secrets

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

    def __init__(self, choose: bool = True) -> None:
        self.tokens: dict[str, str] = {}
        self.choose = choose

    def _on_request(self, request: httpx.Request) -> None:
        sender = _sender(request)
        if sender is None or TOKEN_HEADER in request.headers:
            return
        if sender not in self.tokens and self.choose:
            self.tokens[sender] = secrets.token_hex(32)
        if sender in self.tokens:
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


def keeping_tokens(client: httpx.Client | httpx.AsyncClient, choose: bool = True):
    """`client`, made to send its conversations' tokens (see TokenJar)."""
    TokenJar(choose).install(client)
    return client
