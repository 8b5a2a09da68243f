"""The FastAPI application: chat channels, NLU, health, metrics (and the outbox worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from bot import __version__
from bot.agent import Agent
from bot.errors import BotError, SchemaOutdatedError, ServerBusyError, StoreUnavailableError
from bot.notify.outbox import OutboxWorker
from bot.registry import (
    LiveLoad,
    check_startable,
    folder_state,
    listen_for_promotions,
    live_promotion,
    load_live,
    model_folder,
    verify_model,
)
from bot.server import metrics
from bot.server.conversation_token import TOKEN_HEADER
from bot.server.routes import channels, ratings, staff, system
from bot.server.security import RateLimiter, SecurityHeaders
from bot.service import Router
from bot.settings import Settings, get_settings
from bot.store.db import Database, check_writable, unavailable_message
from bot.store.privacy import install_log_masking

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


async def _deliver_forever(worker: OutboxWorker, interval_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            await loop.run_in_executor(None, worker.run_once)
        except Exception:  # noqa: BLE001 - keep delivering; the error is logged
            logger.exception("Outbox delivery failed")
        await asyncio.sleep(interval_s)


@dataclass(frozen=True)
class LoadProblem:
    """A promoted model this process could not load (said once in the log, and in /readyz)."""

    promotion_id: int
    model_id: str
    reason: str
    #: The folder's files when it failed (`folder_state`): it is tried again once they change.
    state: Any

    def as_dict(self) -> dict[str, str]:
        """For /readyz."""
        return {"model": self.model_id, "problem": self.reason}


@dataclass
class ModelWatch:
    """Which promotion this process answers with, and the live model it could not load.

    Compared by the recorded id and digest (not the manifest's id, which a copied folder
    keeps from its original: that compared unequal forever and reloaded at every look).
    """

    model_id: str | None  # None: a pinned folder (BPBOT_MODELS_PATH is one model)
    digest: str | None
    problem: LoadProblem | None = None
    database_failing: bool = False

    @property
    def pinned(self) -> bool:
        """A pinned model does not follow promotions."""
        return self.model_id is None

    @classmethod
    def started(cls, start: LiveLoad[Any], models_dir: str) -> ModelWatch:
        """What `load_live` started with; a newer promotion passed over is the problem."""
        if start.promotion is None:
            return cls(None, None)
        watch = cls(start.promotion.model_id, start.promotion.digest)
        if start.skipped:
            row, why = start.skipped[0]
            watch.problem = LoadProblem(row.id, row.model_id, why,
                                        _state(models_dir, row.model_id))
        return watch


def _state(models_dir: str, model_id: str) -> Any:
    try:
        return folder_state(model_folder(models_dir, model_id))
    except BotError:
        return None


async def _follow_live_model(app: FastAPI, interval_s: float) -> None:
    """Switch to the live model when a promotion (by any process or host) changes it.

    The record is read every `interval_s`, and at once when PostgreSQL announces a
    promotion. The new model loads in a thread while turns go on with the old one; the
    switch is one assignment between two turns.
    """
    announced = asyncio.Event()
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    settings: Settings = app.state.settings
    if settings.database_url.startswith("postgresql"):
        threading.Thread(target=listen_for_promotions, daemon=True, name="promotions", args=(
            settings.database_url, lambda: loop.call_soon_threadsafe(announced.set),
            stop)).start()
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(announced.wait(), interval_s)
            announced.clear()
            await _switch_if_promoted(app)
    finally:
        stop.set()


async def _switch_if_promoted(app: FastAPI) -> None:
    """Load and switch to the live model when it is not the one this process answers with.

    A live model that cannot be loaded (folder gone, changed, unreadable) leaves the
    current one answering; it is said once (log and /readyz) and tried again only when its
    folder changes or another promotion is recorded.
    """
    agent: Agent = app.state.agent
    watch: ModelWatch = app.state.model_watch
    models_dir = agent.settings.models_path
    try:
        live = await agent.in_db(live_promotion, agent.store.db)
    except Exception as exc:  # noqa: BLE001 - the database is down: look again later
        if not watch.database_failing:
            logger.warning("Could not read the live model from the database: %s", exc)
        watch.database_failing = True
        return
    watch.database_failing = False
    if live is None:
        return
    if (live.model_id, live.digest) == (watch.model_id, watch.digest):
        if watch.problem is not None:
            logger.info("The live model is %s again, the one this process answers with",
                        live.model_id)
            watch.problem = None
        return
    state = await asyncio.to_thread(_state, models_dir, live.model_id)
    problem = watch.problem
    if problem is not None and problem.promotion_id == live.id and problem.state == state:
        return  # said already; its folder has not changed since
    try:
        path, _ = await asyncio.to_thread(partial(
            verify_model, models_dir, live.model_id, live.digest, require_digest=True))
        router = await asyncio.to_thread(partial(
            Router.load, path, agent.settings.routing_path,
            embedder=agent.router.nlu.embedder, serving=True,
            encoders=agent.settings.encoder_threads))
    except Exception as exc:  # noqa: BLE001 - keep the current model; said once
        reason = exc.message if isinstance(exc, BotError) else f"{type(exc).__name__}: {exc}"
        watch.problem = LoadProblem(live.id, live.model_id, reason, state)
        logger.warning("Could not switch to the live model %s; still answering with %s. %s",
                       live.model_id, agent.model_id, reason,
                       exc_info=not isinstance(exc, BotError))
        return
    previous = agent.swap_router(router)
    watch.model_id, watch.digest, watch.problem = live.model_id, live.digest, None
    metrics.set_model(agent.model_id, previous)
    logger.info("Switched to the live model %s (was %s)", live.model_id, previous)


def _start_agent(settings: Settings) -> tuple[Agent, ModelWatch]:
    """The agent with the live model, or the last promoted one that loads (logged)."""
    db = Database.from_settings(settings)
    start = load_live(db, settings.models_path, partial(
        Router.load, routing=settings.routing_path, serving=True,
        encoders=settings.encoder_threads))
    agent = Agent.load(settings, router=start.loaded, db=db, serving=True)
    return agent, ModelWatch.started(start, settings.models_path)


def create_app(settings: Settings | None = None, *, agent: Agent | None = None) -> FastAPI:
    """Build the application; the agent is loaded at start-up unless one is given."""
    settings = settings or get_settings()
    install_log_masking()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # An agent given here, or already set on the app (tests), is used as it is.
        install_log_masking()  # handlers configured after create_app (uvicorn's own)
        app.state.agent = agent or getattr(app.state, "agent", None)
        loaded = app.state.agent is None  # else given (tests): it stays as it is
        metrics.forget_dead_workers()
        if loaded:
            app.state.agent, app.state.model_watch = _start_agent(settings)
            metrics.set_model(app.state.agent.model_id)
            logger.info("Ready: model %s, %s database, %d NLU thread(s)",
                        app.state.agent.model_id, app.state.agent.store.db.dialect,
                        settings.nlu_threads)
        tasks = []
        if settings.outbox_interval_s > 0:
            worker = OutboxWorker(app.state.agent.store.db, settings)
            tasks.append(asyncio.create_task(
                _deliver_forever(worker, settings.outbox_interval_s)))
        if loaded and settings.model_poll_s > 0 and not app.state.model_watch.pinned:
            tasks.append(asyncio.create_task(_follow_live_model(app, settings.model_poll_s)))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.agent.aclose()
        metrics.process_exit()

    docs = settings.serves_api_docs
    app = FastAPI(title="Business Porvoo enquiry assistant", version=__version__,
                  lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url=None,
                  openapi_url="/openapi.json" if docs else None)
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute,
                                         settings.rate_limit_per_conversation)
    app.add_middleware(SecurityHeaders, max_body=settings.max_request_bytes)
    app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                       allow_methods=["GET", "POST", "DELETE"],
                       allow_headers=["Content-Type", TOKEN_HEADER],
                       expose_headers=[TOKEN_HEADER, "Retry-After"])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input: a lone surrogate in it cannot be encoded
        # (a 500), and a large body would come back whole. Where and what is enough.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(ServerBusyError)
    async def busy(request: Request, exc: ServerBusyError) -> JSONResponse:
        logger.warning("503 on %s %s: %s", request.method, request.url.path, exc.message)
        return JSONResponse({"detail": f"{exc.message} Please try again in a moment."},
                            status_code=503,
                            headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Something went wrong on our side; please try again."},
                            status_code=500)

    app.include_router(channels.router)
    app.include_router(system.router)
    app.include_router(staff.router)
    app.include_router(ratings.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        """A demo page that embeds the widget."""
        return FileResponse(STATIC / "index.html")

    return app


def preflight() -> Settings:
    """The settings, once they are valid, the database takes writes and a model would load.

    Exits (status 2) with one line naming the setting, the database problem or why no
    model can be started with (nothing promoted, or no promoted model loads), instead of a
    traceback and, under a process supervisor, a restart loop.
    """
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "BPBOT_" + "_".join(str(p) for p in error.get("loc", ())).upper()
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            if name == "BPBOT_" or message.startswith("BPBOT_"):
                print(f"Error: {message}", file=sys.stderr)
            else:
                print(f"Error: {name}: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        # Brings the schema up to date (a write), or in production checks that it is.
        db = Database.from_settings(settings)
        check_writable(db)
        # A model to start with: the live one, or the last promoted one that would load.
        check_startable(db, settings.models_path)
        db.dispose()
    except (StoreUnavailableError, SchemaOutdatedError) as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except BotError as exc:  # no model to start with (E033), or the pinned one is refused
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except DBAPIError as exc:
        print(f"Error: {unavailable_message(settings.database_url, exc)}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` (each worker process builds its own app)."""
    return create_app(preflight())
