import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.store.enquiries import NewEnquiry, Notification, create_enquiry, get_enquiry
from bot.store.models import Conversation, Enquiry, OutboxMessage
from bot.store.privacy import erase, purge
from bot.store.trackers import SQLTrackerStore


def new_enquiry(sender="s1", email="maija@kahvila.example.fi"):
    return NewEnquiry(sender, "fi", "sv", "terrace_permit", 0.93, "streets",
                      "street-permits@example.fi", "Maija", "Kahvila Oy", "3416721-2", email,
                      None, "2026-11", "Terassilupa, hetu 131052-308T",
                      [{"from": "customer", "text": "Terassilupa"}])


def test_store_tracker_round_trip_masks_personal_ids(db):
    store = SQLTrackerStore(db)
    events = [{"event": "user", "text": "Hetuni on 131052-308T", "timestamp": 1.0,
               "parse_data": {"text": "Hetuni on 131052-308T", "entities": [
                   {"entity": "personal_id", "value": "131052-308T"}]}},
              {"event": "slot", "name": "unit", "value": "streets", "timestamp": 2.0}]
    store.append("c1", events, 0, "fi")
    store.append("c1", [{"event": "action", "name": "action_listen", "timestamp": 3.0}], 2)
    loaded = store.load("c1")
    assert [e["event"] for e in loaded] == ["user", "slot", "action"]
    assert "131052-308T" not in str(loaded)
    assert loaded[1]["value"] == "streets"


def test_store_tracker_refuses_interleaved_writes(db):
    store = SQLTrackerStore(db)
    store.append("c2", [{"event": "action", "name": "a", "timestamp": 1.0}], 0)
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
        store.append("c2", [{"event": "action", "name": "b", "timestamp": 2.0}], 0)
    assert [e["name"] for e in store.load("c2")] == ["a"]


def test_store_enquiry_reference_and_outbox_in_one_transaction(db):
    enquiry_id, reference = create_enquiry(
        db, new_enquiry(), [Notification("email", "street-permits@example.fi", "S", "B")])
    assert re.fullmatch(r"BP-\d{4}-\d{6}", reference)
    assert reference.endswith(f"{enquiry_id:06d}")
    stored = get_enquiry(db, reference)
    assert stored.unit == "streets" and stored.status == "new"
    assert stored.history[0]["event"] == "created"
    with db.session() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        assert [m.idempotency_key for m in outbox] == [
            f"{reference}:email:street-permits@example.fi"]


def test_store_erase_by_email_and_reference(db):
    store = SQLTrackerStore(db)
    store.append("s1", [{"event": "user", "text": "hei", "timestamp": 1.0}], 0)
    store.append("s2", [{"event": "user", "text": "hej", "timestamp": 1.0}], 0)
    create_enquiry(db, new_enquiry("s1"), [Notification("email", "x@example.fi", "S", "B")])
    _, other = create_enquiry(db, new_enquiry("s2", "anna@cafe.example.fi"))
    removed = erase(db, email="MAIJA@kahvila.example.fi".lower())
    assert (removed.enquiries, removed.conversations, removed.notifications) == (1, 1, 1)
    assert store.load("s1") == [] and store.load("s2")
    removed = erase(db, reference=other.lower())
    assert removed.enquiries == 1 and store.load("s2") == []
    with pytest.raises(ValueError, match="Give an e-mail"):
        erase(db)


def test_store_purge_honours_retention(db):
    store = SQLTrackerStore(db)
    store.append("old", [{"event": "user", "text": "hei", "timestamp": 1.0}], 0)
    store.append("new", [{"event": "user", "text": "hei", "timestamp": 1.0}], 0)
    create_enquiry(db, new_enquiry("old"))
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with db.session() as session:
        session.execute(update(Conversation).where(Conversation.sender_id == "old")
                        .values(updated_at=long_ago))
        session.execute(update(Enquiry).values(created_at=long_ago))
    removed = purge(db, retention_days=365)
    assert removed.enquiries == 1 and removed.conversations == 1
    assert store.load("old") == [] and store.load("new")


def test_store_migrations_build_the_schema_the_models_describe(db):
    """Each migration and bot/store/models.py agree: no table, column or index only in one."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.store.models import Base

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if not (isinstance(d, tuple) and d[0] == "remove_table"
                               and d[1].name == "alembic_version")]
    assert differences == []
