"""Request limits, rate limits and security headers."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """A sliding window of requests per client (per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def check(self, client: str, now: float | None = None) -> None:
        """Raise 429 when `client` has used up its minute.

        Raises:
            HTTPException: 429 with Retry-After.
        """
        now = now or time.monotonic()
        hits = self._hits.setdefault(client, deque())
        while hits and now - hits[0] > 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            retry = int(60 - (now - hits[0])) + 1
            raise HTTPException(429, "Too many messages; wait a moment and try again.",
                                headers={"Retry-After": str(retry)})
        hits.append(now)
        if len(self._hits) > 10000:  # forget idle clients
            for key in [k for k, v in self._hits.items() if not v or now - v[-1] > 60]:
                del self._hits[key]


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


def client_key(request: Request) -> str:
    """The client's address (the first hop, as the server sees it)."""
    return request.client.host if request.client else "unknown"
