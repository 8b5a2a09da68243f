"""Health, readiness, metrics and Rasa's /model/parse."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, field_validator

from bot.agent import MAX_MESSAGE_CHARS
from bot.notify.outbox import count_by_status
from bot.server.deps import AgentDep
from bot.server.metrics import OUTBOX, OUTBOX_STATUSES, exposition
from bot.server.security import client_key, valid_unicode
from bot.store.db import check_writable

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(agent: AgentDep, request: Request) -> dict[str, Any]:
    """The model is loaded and the database takes writes.

    A read-only or full database answers SELECT 1 but cannot save a single message: the
    check writes, and a turn's write refused within the last moments counts too. A live
    model this process could not load is named (`live_model_problem`), and the answer
    stays 200: the process serves with the model it has (503 on every process at once
    would take the whole service down over one bad folder).
    """
    try:
        await agent.in_db(check_writable, agent.store.db)
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
        raise HTTPException(503, "The database cannot be written or reached.") from exc
    if agent.store_failing():
        raise HTTPException(503, "The database refused to save a message a moment ago.")
    ready: dict[str, Any] = {"status": "ready", "model": agent.model_id,
                             "database": agent.store.db.dialect}
    watch = getattr(request.app.state, "model_watch", None)
    if watch is not None and watch.problem is not None:
        ready["live_model_problem"] = watch.problem.as_dict()
    return ready


def admin_only(request: Request) -> None:
    """Operators' endpoints: a bearer token when one is set; hidden in production without.

    Raises:
        HTTPException: 401 without the right token; 404 in production when no token is set.
    """
    settings = request.app.state.settings
    if not settings.admin_token:
        if settings.environment == "production":
            raise HTTPException(404, "Not Found")
        return
    given = request.headers.get("authorization", "")
    expected = f"Bearer {settings.admin_token}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "This endpoint needs the operators' token: send "
                                 "'Authorization: Bearer <BPBOT_ADMIN_TOKEN>'.",
                            headers={"WWW-Authenticate": "Bearer"})


AdminOnly = Depends(admin_only)


@router.get("/metrics", dependencies=[AdminOnly])
async def prometheus_metrics(agent: AgentDep) -> Response:
    """Prometheus metrics."""
    counts = await agent.in_db(count_by_status, agent.store.db)
    for status in OUTBOX_STATUSES:
        OUTBOX.labels(status).set(counts.get(status, 0))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class ParseRequest(BaseModel):
    """Rasa's /model/parse input."""

    text: str = Field(max_length=MAX_MESSAGE_CHARS)
    message_id: str | None = Field(default=None, max_length=128)

    _text = field_validator("text")(valid_unicode)


@router.post("/model/parse", dependencies=[AdminOnly])
async def model_parse(body: ParseRequest, request: Request, agent: AgentDep) -> dict[str, Any]:
    """The NLU result for a text, like Rasa's (plus the routing decision).

    Limited like the chat: the rate limit per address, the message length, and the fair
    NLU queue.
    """
    client = client_key(request)
    await request.app.state.rate_limiter.check(agent, client)
    limit = agent.settings.max_message_chars
    if len(body.text) > limit:
        raise HTTPException(413, f"The text is {len(body.text)} characters long; at most "
                                 f"{limit} are accepted.")
    parsed = await agent.in_nlu(client, agent.router.nlu.parse, body.text)
    decision = agent.router.decide(parsed)
    parsed["routing"] = {"unit": None if decision.needs_clarification else decision.unit,
                         "needs_clarification": decision.needs_clarification,
                         "candidates": decision.candidates}
    if body.message_id:
        parsed["message_id"] = body.message_id
    return parsed
