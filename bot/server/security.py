"""Request limits, rate limits and security headers."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from fastapi import HTTPException, Request, WebSocket
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.store import limits as limits_store

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'self'")
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]


class SecurityHeaders:
    """CSP (frame-ancestors included), no sniffing, no referrer leaks; request size limit.

    A plain ASGI middleware (no extra task or response streaming per request, unlike
    Starlette's BaseHTTPMiddleware). The size limit holds for the declared Content-Length
    and for chunked bodies without one, counted as they arrive.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse oversized bodies; add the headers to every response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:  # handled by the app's exception middleware
                    raise HTTPException(413, self._too_large_detail)
            return message

        await self.app(scope, limited_receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = CSP
                for name, value in _HEADERS:
                    headers.raw.append((name, value))
            await send(message)

        return send_with_headers

    @property
    def _too_large_detail(self) -> str:
        return f"Request body too large: at most {self.max_body} bytes."

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": self._too_large_detail}, status_code=413)
        await response(scope, receive, self._with_headers(send))


class RateLimiter:
    """Requests per minute per address and per conversation, shared by every process.

    On PostgreSQL the counts live in the database (bot/store/limits.py), so the limit holds
    across server processes and hosts; the database work runs in the agent's database
    threads. SQLite serves one process (`bpbot serve` refuses several workers on it), so
    there the same counts are kept in memory, sparing a write per message.
    """

    def __init__(self, per_address: int, per_conversation: int) -> None:
        self.per_address = per_address
        self.per_conversation = per_conversation
        self._local: dict[tuple[str, int], int] = {}

    async def check(self, agent: Any, address: str, conversation: str | None = None,
                    kind: str = "chat") -> None:
        """Count the request; refuse it when the address or the conversation is over.

        Raises:
            HTTPException: 429 with Retry-After.
        """
        limits = [(f"{kind}:address:{address}", self.per_address)]
        if conversation is not None:
            limits.append((f"{kind}:conversation:{conversation}", self.per_conversation))
        if agent.store.db.dialect == "sqlite":
            wait = limits_store.hit_in(self._local, limits)
        else:
            wait = await agent.in_db(limits_store.hit, agent.store.db, limits)
        if wait is not None:
            raise HTTPException(429, "Too many messages; wait a moment and try again.",
                                headers={"Retry-After": str(wait)})


MAX_METADATA_BYTES = 2048


def valid_unicode(value: str) -> str:
    """`value` unless it holds a lone UTF-16 surrogate, which no store accepts.

    Raises:
        ValueError: naming what was found and what is expected (pydantic answers 422).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the text holds an invalid character (a lone UTF-16 surrogate at "
                         f"position {exc.start}); send valid Unicode text") from exc
    return value


def small_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chat metadata (the widget sends its language) of at most MAX_METADATA_BYTES as JSON.

    Raises:
        ValueError: too large, or not JSON-serialisable text (pydantic answers 422).
    """
    if value is None:
        return None
    encoded = valid_unicode(json.dumps(value, ensure_ascii=False, default=str))
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {len(encoded.encode())} bytes as JSON; at most "
                         f"{MAX_METADATA_BYTES} are accepted (the widget sends only its "
                         "language)")
    return value


def client_key(request: Request | WebSocket) -> str:
    """The client's address.

    The connection's peer, unless the peer is one of the trusted proxies
    (BPBOT_TRUSTED_PROXIES; none by default): then the X-Forwarded-For hop nearest to the
    proxies that is not itself a trusted proxy. A client cannot escape its limit by
    sending the header itself, and behind a proxy every user keeps a limit of their own.
    """
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.settings.trusted_proxy_networks
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(
        request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
            ) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
