"""Request limits, rate limits and security headers."""

from __future__ import annotations

import time
from collections import deque

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, Response

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'self'")


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP (frame-ancestors included), no sniffing, no referrer leaks; size limit."""

    def __init__(self, app: object, max_body: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_body = max_body

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Refuse oversized bodies; add the headers to every response."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            return JSONResponse({"detail": f"Request body too large: at most "
                                           f"{self.max_body} bytes."}, status_code=413)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response


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


def client_key(request: Request) -> str:
    """The client's address (the first hop, as the server sees it)."""
    return request.client.host if request.client else "unknown"
