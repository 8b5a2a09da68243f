"""Conversation state in the database: each conversation's Rasa events, in order.

Server processes keep nothing between messages: every turn takes the conversation's lease,
loads the events, runs, and appends the new ones (ending the lease). A unique (sender_id,
seq) index makes two processes that would still handle the same conversation at once (a
lease that ran out) fail loudly instead of interleaving events.
"""

from __future__ import annotations

import copy
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

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
_TAKE_LEASE = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.sender_id == bindparam("sid"),
    or_(_CONVERSATIONS.c.locked_until.is_(None),
        _CONVERSATIONS.c.locked_until < bindparam("now"))).values(
    lock_token=bindparam("token"), locked_until=bindparam("until"))
_RELEASE_LEASE = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.sender_id == bindparam("sid"),
    _CONVERSATIONS.c.lock_token == bindparam("token")).values(lock_token=None,
                                                              locked_until=None)
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

    def lease(self, sender_id: str, token: str, seconds: float) -> bool:
        """Take the conversation's turn for `seconds` unless another holder's lease runs.

        One short transaction: no connection is held while the turn runs (the NLU, the
        actions), so a process serves as many conversations as its threads allow, and two
        processes that get messages of the same conversation take turns. A lease left by a
        dead process runs out by itself. Returns whether the lease was taken.
        """
        now = time.time()
        values = {"sid": sender_id, "token": token, "now": now, "until": now + seconds}
        with self.db.engine.begin() as connection:
            taken = connection.execute(_TAKE_LEASE, values).rowcount
            if not taken:  # a new conversation (or another holder): make sure the row exists
                connection.execute(self._insert_missing(sender_id))
                taken = connection.execute(_TAKE_LEASE, values).rowcount
        return taken == 1

    def begin_turn(self, sender_id: str, token: str, seconds: float
                   ) -> list[dict[str, Any]] | None:
        """The conversation's events once its lease is taken; None while another holds it."""
        return self.load(sender_id) if self.lease(sender_id, token, seconds) else None

    def token_secrets(self, sender_id: str) -> tuple[str | None, str | None] | None:
        """The conversation's (salt, token hash) for checking its token; None: no such one."""
        with self.db.engine.connect() as connection:
            row = connection.execute(select(
                _CONVERSATIONS.c.token_salt, _CONVERSATIONS.c.token_hash).where(
                _CONVERSATIONS.c.sender_id == sender_id)).first()
        return None if row is None else (row[0], row[1])

    def claim(self, sender_id: str, token_hash: str | None = None) -> str | None:
        """Start the conversation `sender_id` unless it exists; its new salt, or None.

        One INSERT that does nothing when the row exists: of two first messages sent at
        once under the same id, exactly one starts the conversation (and gets its token).
        `token_hash`: the hash of the token the client chose (kept instead of a salt).
        """
        with self.db.engine.begin() as connection:
            inserted = connection.execute(self._insert_missing(
                sender_id, token_hash).returning(_CONVERSATIONS.c.sender_id,
                                                 _CONVERSATIONS.c.token_salt)).first()
        if inserted is None:  # it existed
            return None
        return inserted[1] or ""

    def unclaim(self, sender_id: str) -> None:
        """Forget a conversation that `claim` started but whose first turn stored nothing.

        The client never received the token of a turn that failed; without this the id
        would stay locked to a token nobody has.
        """
        with self.db.engine.begin() as connection:
            connection.execute(delete(_CONVERSATIONS).where(
                _CONVERSATIONS.c.sender_id == sender_id, _CONVERSATIONS.c.event_count == 0,
                ~select(_EVENTS.c.id).where(_EVENTS.c.sender_id == sender_id).exists()))

    def release(self, sender_id: str, token: str) -> None:
        """End the lease `token` (a no-op when it already ended or ran out)."""
        with self.db.engine.begin() as connection:
            connection.execute(_RELEASE_LEASE, {"sid": sender_id, "token": token})

    def _insert_missing(self, sender_id: str, token_hash: str | None = None) -> Any:
        """INSERT the conversation's row unless it exists (SQLite and PostgreSQL alike).

        With `token_hash` (a token the client chose) the row keeps that and no salt.
        """
        from sqlalchemy.dialects import postgresql, sqlite

        now = datetime.now(UTC)
        dialect_insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        return dialect_insert(_CONVERSATIONS).values(
            sender_id=sender_id, created_at=now, updated_at=now, event_count=0,
            token_salt=None if token_hash else secrets.token_hex(16),
            token_hash=token_hash).on_conflict_do_nothing(index_elements=["sender_id"])

    def append(self, sender_id: str, events: list[dict[str, Any]], start_seq: int,
               language: str | None = None, lease: str | None = None) -> None:
        """Store events `start_seq`, `start_seq + 1`, ... of the conversation.

        With `lease`, the turn's lease ends in the same transaction.
        """
        with self.db.engine.begin() as connection:
            self._append(connection, sender_id, events, start_seq, language)
            if lease is not None:
                connection.execute(_RELEASE_LEASE, {"sid": sender_id, "token": lease})

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
        changed = connection.execute(_UPDATE_CONVERSATION, {
            "sid": sender_id, "now": now, "count": count, "language": language or None,
        }).rowcount  # the row exists after the first turn, or once a lease was taken
        if not changed:
            connection.execute(_INSERT_CONVERSATION, {
                "sender_id": sender_id, "created_at": now, "updated_at": now,
                "event_count": count, "language": language or None,
                "token_salt": secrets.token_hex(16)})
        connection.execute(_INSERT_EVENTS, rows)
