"""Staff sessions: a signed cookie with the member id and a CSRF token."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.settings import Settings

COOKIE = "bpbot_staff"
MAX_AGE_S = 8 * 3600


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="bpbot-staff-session")


def read_session(request: Request) -> dict[str, Any]:
    """The session in the cookie ({} when missing, forged or expired)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request.app.state.settings).loads(raw, max_age=MAX_AGE_S)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_session(response: Response, request: Request, data: dict[str, Any]) -> None:
    """Store the session (HttpOnly, SameSite=Lax, Secure in production)."""
    settings: Settings = request.app.state.settings
    response.set_cookie(COOKIE, _serializer(settings).dumps(data), max_age=MAX_AGE_S,
                        httponly=True, samesite="lax", path="/staff",
                        secure=settings.environment == "production")


def new_csrf() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(24)


def check_csrf(session: dict[str, Any], token: str | None, message: str) -> None:
    """Refuse a form whose token is not the session's, with `message` (the page's language).

    Raises:
        HTTPException: 403.
    """
    expected = session.get("csrf")
    if not expected or not token or not hmac.compare_digest(str(expected), token):
        raise HTTPException(403, message)
