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

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.nlu.validators import mask_personal_ids
from bot.store.db import Database
from bot.store.models import Conversation, ConversationEvent


def mask_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event with personal identity codes masked in every text."""
    kind = event.get("event")
    if kind not in ("user", "bot"):
        return event
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
    """Loads and appends conversation events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _events(session: Session, sender_id: str) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(ConversationEvent.data).where(ConversationEvent.sender_id == sender_id)
            .order_by(ConversationEvent.seq))
        return [dict(r) for r in rows]

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        """Every stored event of the conversation, oldest first."""
        with self.db.session() as session:
            return self._events(session, sender_id)

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
        with self.db.session() as session:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            now = datetime.now(UTC)
            session.execute(pg_insert(Conversation).values(
                sender_id=sender_id, created_at=now, updated_at=now, event_count=0,
            ).on_conflict_do_nothing(index_elements=["sender_id"]))
            session.execute(select(Conversation.sender_id).where(
                Conversation.sender_id == sender_id).with_for_update())
            yield Turn(self._events(session, sender_id), lambda events, start, language=None:
                       self._append(session, sender_id, events, start, language))

    def append(self, sender_id: str, events: list[dict[str, Any]], start_seq: int,
               language: str | None = None) -> None:
        """Store events `start_seq`, `start_seq + 1`, ... of the conversation."""
        with self.db.session() as session:
            self._append(session, sender_id, events, start_seq, language)

    def _append(self, session: Session, sender_id: str, events: list[dict[str, Any]],
                start_seq: int, language: str | None = None) -> None:
        """Store the events in `session`.

        Three statements whatever the number of events: the conversation row (update, or
        insert for a new conversation), then every event in one multi-row INSERT.
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
            values: dict[str, Any] = {"updated_at": now, "event_count": count}
            if language:
                values["language"] = language
            result = session.execute(update(Conversation).where(
                Conversation.sender_id == sender_id).values(**values))
            changed = result.rowcount  # type: ignore[attr-defined]
        if not changed:
            session.execute(insert(Conversation).values(
                sender_id=sender_id, created_at=now, updated_at=now, event_count=count,
                language=language))
        session.execute(insert(ConversationEvent), rows)
