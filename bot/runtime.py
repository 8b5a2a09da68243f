"""What custom actions need at run time: settings, the database and the routing table.

The agent configures this when it starts; a separate action server process builds it
from the environment (BPBOT_* settings) on first use.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.routing import RoutingTable, load_routing
from bot.settings import Settings, get_settings
from bot.store.db import Database


@dataclass
class Runtime:
    """Settings with the resources built from them."""

    settings: Settings
    _db: Database | None = None
    _routing: RoutingTable | None = None

    @property
    def db(self) -> Database:
        """The database (migrated on first use)."""
        if self._db is None:
            self._db = Database.from_settings(self.settings)
        return self._db

    @property
    def routing(self) -> RoutingTable:
        """The routing table (the agent's own, or loaded on first use)."""
        if self._routing is None:
            self._routing = load_routing(self.settings.routing_path)
        return self._routing


_lock = threading.Lock()
_current: Runtime | None = None
# The runtime of the agent handling the current turn (several agents in one process, as in
# the tests, each keep their own database and routing table).
_active: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar(
    "bpbot_runtime", default=None)


def configure(settings: Settings, db: Database | None = None,
              routing: RoutingTable | None = None) -> Runtime:
    """Make these settings (database, routing table) the ones custom actions use."""
    global _current
    with _lock:
        _current = Runtime(settings, db, routing)
        return _current


@contextmanager
def active(runtime: Runtime) -> Iterator[Runtime]:
    """Make `runtime` the one custom actions see in this task while the block runs."""
    token = _active.set(runtime)
    try:
        yield runtime
    finally:
        _active.reset(token)


def current() -> Runtime:
    """The active runtime, else the configured one, else one built from the environment."""
    global _current
    active_now = _active.get()
    if active_now is not None:
        return active_now
    with _lock:
        if _current is None:
            _current = Runtime(get_settings())
        return _current
