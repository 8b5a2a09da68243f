"""Rate limits shared by every server process and host: counters in the database.

A sliding window estimated from two fixed one-minute windows (this minute's count plus
the previous minute's, weighted by how much of it still falls within the last 60 s): one
upsert per key and request, with no clock shared between hosts other than the minute.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.db import Database
from bot.store.models import RateLimit

WINDOW_S = 60
_TABLE: Table = RateLimit.__table__  # type: ignore[assignment]
# Old windows are deleted now and then by whichever request comes along.
_CLEANUP_SHARE = 0.01


def _upsert(insert: Any) -> Any:
    statement = insert(_TABLE).values(key=bindparam("key"), window=bindparam("window"),
                                      hits=1)
    return statement.on_conflict_do_update(
        index_elements=["key", "window"], set_={"hits": _TABLE.c.hits + 1},
    ).returning(_TABLE.c.hits)


# Built once (a statement object keeps its compiled form cached): this runs per message.
_COUNT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_PREVIOUS = select(_TABLE.c.hits).where(_TABLE.c.key == bindparam("key"),
                                        _TABLE.c.window == bindparam("window"))


def hit(db: Database, limits: list[tuple[str, int]], now: float | None = None) -> int | None:
    """Count one request against each (key, per-minute limit).

    Returns None when every key is within its limit, else the seconds to wait.
    """
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    wait: int | None = None
    with db.engine.begin() as connection:
        for key, per_minute in limits:
            current = int(connection.execute(_COUNT[db.dialect], {
                "key": key, "window": window}).scalar_one())
            previous = connection.execute(_PREVIOUS, {
                "key": key, "window": window - 1}).scalar() or 0
            wait = _over(wait, current, previous, per_minute, now)
        if random.random() < _CLEANUP_SHARE:
            connection.execute(delete(_TABLE).where(_TABLE.c.window < window - 1))
    return wait


def hit_in(counts: dict[tuple[str, int], int], limits: list[tuple[str, int]],
           now: float | None = None) -> int | None:
    """`hit` on counts in memory (one process: SQLite), with the same windows."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    wait: int | None = None
    for key, per_minute in limits:
        counts[(key, window)] = current = counts.get((key, window), 0) + 1
        wait = _over(wait, current, counts.get((key, window - 1), 0), per_minute, now)
    if len(counts) > 50_000 or random.random() < _CLEANUP_SHARE:
        for old in [k for k in counts if k[1] < window - 1]:
            del counts[old]
    return wait


def _over(wait: int | None, current: int, previous: int, per_minute: int, now: float
          ) -> int | None:
    """The seconds to wait (at least `wait`) when the key is over its limit; else `wait`.

    Over: this window's count and the part of the last window still within 60 s.
    """
    still_counted = 1 - (now % WINDOW_S) / WINDOW_S  # of the previous window
    if previous * still_counted + current > per_minute:
        return max(wait or 0, int(WINDOW_S - now % WINDOW_S) + 1)
    return wait
