"""Custom actions through rasa-sdk: in-process (the default) or on a separate action server.

Both speak Rasa's action protocol: a call `{next_action, sender_id, tracker, domain,
version}` answered by `{events, responses}`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
from abc import ABC, abstractmethod
from typing import Any

from bot import __version__
from bot.errors import ActionNotFoundError, ActionServerError

logger = logging.getLogger(__name__)
ActionResult = tuple[list[dict[str, Any]], list[dict[str, Any]]]


class CustomActionRunner(ABC):
    """Runs custom actions by name."""

    @abstractmethod
    def names(self) -> set[str]:
        """Names of the actions this runner can run."""

    @abstractmethod
    async def run(self, name: str, sender_id: str, tracker_state: dict[str, Any],
                  domain: dict[str, Any], domain_digest: str) -> ActionResult:
        """Run action `name`; return (events, responses)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


def _call(name: str, sender_id: str, tracker_state: dict[str, Any],
          domain: dict[str, Any], domain_digest: str) -> dict[str, Any]:
    return {"next_action": name, "sender_id": sender_id, "tracker": tracker_state,
            "domain": domain, "domain_digest": domain_digest,
            "version": f"bpbot-{__version__}"}


def _settle(task: asyncio.Task[Any], done: concurrent.futures.Future[Any]) -> None:
    """Pass a task's outcome (on the actions' loop) to a future the server's loop awaits."""
    if task.cancelled():
        done.cancel()
    elif task.exception() is not None:
        done.set_exception(task.exception())
    else:
        done.set_result(task.result())


class InProcessActionRunner(CustomActionRunner):
    """rasa-sdk's own `ActionExecutor`, in this process (no network hop)."""

    def __init__(self, package: str = "actions") -> None:
        import importlib.util
        import os
        import sys

        from rasa_sdk.executor import ActionExecutor

        if importlib.util.find_spec(package) is None and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # the project folder, as `rasa run actions` does
        if importlib.util.find_spec(package) is None:
            raise ActionServerError(
                f"Cannot import the custom actions package '{package}'. Run from the project "
                "folder (where actions/ is), or set BPBOT_ACTIONS_PACKAGE.")
        self._executor = ActionExecutor()
        self._loop: asyncio.AbstractEventLoop | None = None  # started by the first action
        self._executor.register_package(package)
        if not self._executor.actions:
            raise ActionServerError(
                f"The package '{package}' registered no actions; its import failed or it "
                "defines no rasa_sdk Action subclasses. Check the log above.")
        self.package = package

    def names(self) -> set[str]:
        """Registered action names."""
        return set(self._executor.actions)

    async def aclose(self) -> None:
        """Stop the actions' event loop (a later action starts it again)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None

    async def run(self, name: str, sender_id: str, tracker_state: dict[str, Any],
                  domain: dict[str, Any], domain_digest: str) -> ActionResult:
        """Run through rasa-sdk's executor, on an event loop in a thread of its own.

        Actions are written as coroutines, but ours save enquiries with blocking database
        calls; on their own loop they never hold up the server's event loop. The context
        (the runtime of the turn) goes along.
        """
        if name not in self._executor.actions:
            raise ActionNotFoundError(name, sorted(self.names()))
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="actions",
                             daemon=True).start()
        context = contextvars.copy_context()
        call = self._executor.run(_call(name, sender_id, tracker_state, domain, domain_digest))
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        loop = self._loop

        def start() -> None:
            loop.create_task(call, context=context).add_done_callback(
                lambda task: _settle(task, done))

        try:
            loop.call_soon_threadsafe(start)
            result = await asyncio.wrap_future(done)
        except Exception as exc:  # an action's own bug must not end the conversation
            logger.exception("Custom action '%s' failed", name)
            raise ActionServerError(f"Custom action '{name}' failed: "
                                    f"{type(exc).__name__}: {exc}") from exc
        if result is None:
            return [], []
        return list(result.events), list(result.responses)


class HttpActionRunner(CustomActionRunner):
    """A separate rasa-sdk action server (`python -m rasa_sdk`), called like Rasa calls it."""

    def __init__(self, url: str, action_names: set[str], timeout_s: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        if not self.url.endswith("/webhook"):
            self.url += "/webhook"
        self._names = set(action_names)
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._loop: object | None = None

    def _http(self) -> Any:
        """The HTTP client of the running event loop (a client cannot cross loops)."""
        import asyncio

        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout_s)
            self._loop = loop
        return self._client

    def names(self) -> set[str]:
        """The custom actions declared in the domain (the server is asked at run time)."""
        return self._names

    async def run(self, name: str, sender_id: str, tracker_state: dict[str, Any],
                  domain: dict[str, Any], domain_digest: str) -> ActionResult:
        """POST the call to the action server's /webhook."""
        import httpx

        try:
            response = await self._http().post(
                self.url, json=_call(name, sender_id, tracker_state, domain, domain_digest))
        except httpx.HTTPError as exc:
            raise ActionServerError(f"The action server at {self.url} did not answer for "
                                    f"'{name}' ({type(exc).__name__}). Is it running?") from exc
        if response.status_code == 404:
            raise ActionNotFoundError(name, sorted(self._names))
        if response.status_code != 200:
            raise ActionServerError(f"The action server answered {response.status_code} for "
                                    f"'{name}': {response.text[:300]}")
        body = response.json()
        return list(body.get("events") or []), list(body.get("responses") or [])

    async def aclose(self) -> None:
        """Close the HTTP client."""
        import asyncio

        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None  # a client of a finished loop has nothing left to close
