"""Rate limits shared by every server process and host: counters in the database.

A sliding window estimated from two fixed one-minute windows (this minute's count plus
the previous minute's, weighted by how much of it still falls within the last 60 s): one
upsert per key and request, with no clock shared between hosts other than the minute.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.db import Database
from bot.store.models import RateLimit

WINDOW_S = 60
_TABLE: Table = RateLimit.__table__  # type: ignore[assignment]
# Old windows are deleted now and then by whichever request comes along.
_CLEANUP_SHARE = 0.01


def _count(db: Database, key: str, window: int) -> Any:
    insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE).values(key=key, window=window, hits=1)
    return statement.on_conflict_do_update(
        index_elements=["key", "window"], set_={"hits": _TABLE.c.hits + 1},
    ).returning(_TABLE.c.hits)


def hit(db: Database, limits: list[tuple[str, int]], now: float | None = None) -> int | None:
    """Count one request against each (key, per-minute limit).

    Returns None when every key is within its limit, else the seconds to wait.
    """
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    still_counted = 1 - (now % WINDOW_S) / WINDOW_S  # of the previous window
    wait: int | None = None
    with db.engine.begin() as connection:
        for key, per_minute in limits:
            current = int(connection.execute(_count(db, key, window)).scalar_one())
            previous = connection.execute(select(_TABLE.c.hits).where(
                _TABLE.c.key == key, _TABLE.c.window == window - 1)).scalar() or 0
            if previous * still_counted + current > per_minute:
                wait = max(wait or 0, int(WINDOW_S - now % WINDOW_S) + 1)
        if random.random() < _CLEANUP_SHARE:
            connection.execute(delete(_TABLE).where(_TABLE.c.window < window - 1))
    return wait


def clear(db: Database, key: str) -> None:
    """Forget the counts of `key` (an admin clearing a sign-in lockout)."""
    with db.engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.key == key))
