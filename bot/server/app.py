"""The FastAPI application: chat channels, NLU, health, metrics (and the outbox worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from bot import __version__
from bot.agent import Agent
from bot.errors import SchemaOutdatedError, ServerBusyError, StoreUnavailableError
from bot.notify.outbox import OutboxWorker
from bot.registry import listen_for_promotions, live_model_id
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
    """Load and switch to the live model when it is not this process's."""
    agent: Agent = app.state.agent
    try:
        live = await agent.in_db(live_model_id, agent.store.db)
        if live is None or live == agent.model_id:
            return
        path = Path(agent.settings.models_path) / live
        router = await asyncio.to_thread(partial(
            Router.load, path, agent.settings.routing_path,
            embedder=agent.router.nlu.embedder, serving=True,
            encoders=agent.settings.encoder_threads))
        previous = agent.swap_router(router)
        metrics.set_model(agent.model_id, previous)
        logger.info("Switched to the live model %s (was %s)", live, previous)
    except Exception:  # noqa: BLE001 - keep the current model and try again later
        logger.exception("Could not switch to the live model")


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
            app.state.agent = Agent.load(settings, serving=True)
            metrics.set_model(app.state.agent.model_id)
            logger.info("Ready: model %s, %s database, %d NLU thread(s)",
                        app.state.agent.model_id, app.state.agent.store.db.dialect,
                        settings.nlu_threads)
        tasks = []
        if settings.outbox_interval_s > 0:
            worker = OutboxWorker(app.state.agent.store.db, settings)
            tasks.append(asyncio.create_task(
                _deliver_forever(worker, settings.outbox_interval_s)))
        if loaded and settings.model_poll_s > 0:
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
    """The settings, once they are valid and the database takes writes.

    Exits (status 2) with one line naming the setting or the database problem, instead of
    a traceback and, under a process supervisor, a restart loop.
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
        db.dispose()
    except (StoreUnavailableError, SchemaOutdatedError) as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except DBAPIError as exc:
        print(f"Error: {unavailable_message(settings.database_url, exc)}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` (each worker process builds its own app)."""
    return create_app(preflight())
