"""Conversation state in the database: each conversation's Rasa events, in order.

Server processes keep nothing between messages: every turn loads the events, runs, and
appends the new ones. A unique (sender_id, seq) index makes two processes that handle the
same conversation at once fail loudly instead of interleaving events.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, Table, bindparam, func, insert, select, update

from bot.nlu.validators import mask_personal_ids
from bot.store.db import Database
from bot.store.models import Conversation, ConversationEvent

_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_EVENTS: Table = ConversationEvent.__table__  # type: ignore[assignment]
# Built once: a statement object keeps its cache key, so each run skips building and keying.
_SELECT_EVENTS = (select(_EVENTS.c.data).where(_EVENTS.c.sender_id == bindparam("sid"))
                  .order_by(_EVENTS.c.seq))
_UPDATE_CONVERSATION = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.sender_id == bindparam("sid")).values(
    updated_at=bindparam("now"), event_count=bindparam("count"),
    language=func.coalesce(bindparam("language", type_=String), _CONVERSATIONS.c.language))
_INSERT_CONVERSATION = insert(_CONVERSATIONS)
_INSERT_EVENTS = insert(_EVENTS)


def mask_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with personal identity codes masked in every text (a copy when masked)."""
    if event.get("event") not in ("user", "bot"):
        return event
    parse = event.get("parse_data")
    entities = parse.get("entities") if isinstance(parse, dict) else None
    texts = [event.get("text"), parse.get("text") if isinstance(parse, dict) else None]
    if not any(isinstance(t, str) and mask_personal_ids(t) != t for t in texts) and not any(
            e.get("entity") == "personal_id" for e in entities or []):
        return event  # nothing to mask: most events, and no copy
    masked = copy.deepcopy(event)
    if isinstance(masked.get("text"), str):
        masked["text"] = mask_personal_ids(masked["text"])
    parse = masked.get("parse_data")
    if isinstance(parse, dict):
        if isinstance(parse.get("text"), str):
            parse["text"] = mask_personal_ids(parse["text"])
        parse["entities"] = [
            {**e, "value": "[masked]", "text": "[masked]"} if e.get("entity") == "personal_id"
            else e for e in parse.get("entities") or []]
    return masked


@dataclass
class Turn:
    """The events of a conversation, and how to store the turn's new ones."""

    events: list[dict[str, Any]]
    append: Callable[..., None]


class SQLTrackerStore:
    """Loads and appends conversation events.

    Plain SQL statements on the tables (SQLAlchemy Core, compiled once and cached): this
    runs twice for every message, and the ORM's unit of work would cost more than the
    database does.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _events(connection: Connection, sender_id: str) -> list[dict[str, Any]]:
        return [row[0] for row in connection.execute(_SELECT_EVENTS, {"sid": sender_id})]

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        """Every stored event of the conversation, oldest first."""
        with self.db.engine.connect() as connection:
            return self._events(connection, sender_id)

    @contextmanager
    def turn(self, sender_id: str) -> Iterator[Turn]:
        """One turn of a conversation in one transaction.

        On PostgreSQL the conversation's row is locked (`SELECT ... FOR UPDATE`) until the
        turn's events are stored, so that two server processes that get messages of the
        same conversation take turns instead of interleaving events. SQLite serves one
        process (whose agent already takes turns per conversation): there a transaction
        held across the turn could not write after the turn's actions wrote (WAL
        snapshots), so loading and storing are two transactions.
        """
        if self.db.dialect != "postgresql":
            yield Turn(self.load(sender_id), lambda events, start, language=None:
                       self.append(sender_id, events, start, language))
            return
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        with self.db.engine.begin() as connection:
            now = datetime.now(UTC)
            connection.execute(pg_insert(_CONVERSATIONS).values(
                sender_id=sender_id, created_at=now, updated_at=now, event_count=0,
            ).on_conflict_do_nothing(index_elements=["sender_id"]))
            connection.execute(select(_CONVERSATIONS.c.sender_id).where(
                _CONVERSATIONS.c.sender_id == sender_id).with_for_update())
            yield Turn(self._events(connection, sender_id),
                       lambda events, start, language=None:
                       self._append(connection, sender_id, events, start, language))

    def append(self, sender_id: str, events: list[dict[str, Any]], start_seq: int,
               language: str | None = None) -> None:
        """Store events `start_seq`, `start_seq + 1`, ... of the conversation."""
        with self.db.engine.begin() as connection:
            self._append(connection, sender_id, events, start_seq, language)

    def _append(self, connection: Connection, sender_id: str, events: list[dict[str, Any]],
                start_seq: int, language: str | None = None) -> None:
        """Store the events in the transaction of `connection`.

        Three statements whatever the number of events: the conversation row (update, or
        insert for a new conversation), then every event in one executemany INSERT.
        """
        if not events:
            return
        now = datetime.now(UTC)
        count = start_seq + len(events)
        rows = [{"sender_id": sender_id, "seq": start_seq + offset,
                 "type": str(event.get("event")),
                 "timestamp": float(event.get("timestamp") or now.timestamp()),
                 "data": mask_event(event)} for offset, event in enumerate(events)]
        changed = 0
        if start_seq > 0 or self.db.dialect == "postgresql":  # the row exists (or is locked)
            changed = connection.execute(_UPDATE_CONVERSATION, {
                "sid": sender_id, "now": now, "count": count, "language": language or None,
            }).rowcount
        if not changed:
            connection.execute(_INSERT_CONVERSATION, {
                "sender_id": sender_id, "created_at": now, "updated_at": now,
                "event_count": count, "language": language or None})
        connection.execute(_INSERT_EVENTS, rows)
