"""Exactly-once e-mail when the database refuses to record a send (a full disk).

A real SMTP server (aiosmtpd) and real databases (SQLite, PostgreSQL); the fault is the
database driver's own error raised by an engine hook at the moment of the write.
"""

import email
import time
from collections import Counter

import pytest
from sqlalchemy import event

from bot.notify.outbox import OutboxWorker, count_by_status
from bot.settings import Settings
from tests.browser import free_port
from tests.test_notify import _email_enquiries
from tests.test_process_restart import Inbox

LEASE_S = 0.3


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, Settings(environment="test", smtp_port=port, smtp_timeout_s=2,
                          outbox_backoff_s=0.01)
    controller.stop()


def message_ids(inbox):
    return Counter(email.message_from_bytes(m.content)["Message-ID"] for m in inbox.messages)


class RefusedWrites:
    """Makes the database refuse writes with its driver's own error ("disk is full").

    From the first time `sent` is recorded (an UPDATE of outbox setting sent_at): that
    one write only (`outage_s` 0), or every write for `outage_s` seconds.
    """

    def __init__(self, db, outage_s: float = 0.0) -> None:
        self.error = db.engine.dialect.loaded_dbapi.OperationalError
        self.outage_s, self.started, self.refused = outage_s, None, 0
        event.listen(db.engine, "before_cursor_execute", self.check)
        self.engine = db.engine

    def check(self, conn, cursor, statement, parameters, context, executemany):
        words = statement.lstrip().split(None, 2)
        writes = words and words[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        marks_sent = statement.lstrip().startswith("UPDATE outbox") and "sent_at" in statement
        if self.started is None and marks_sent:
            self.started = time.monotonic()
        elif not (writes and self.started is not None
                  and time.monotonic() - self.started < self.outage_s):
            return
        self.refused += 1
        raise self.error("database or disk is full")

    def remove(self):
        event.remove(self.engine, "before_cursor_execute", self.check)


def deliver_for(worker, seconds):
    """Run the worker as the server does: every error logged and delivery goes on."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            worker.run_once()
        except Exception:  # noqa: BLE001 - the server's loop logs it and goes on
            pass
        time.sleep(0.02)


@pytest.mark.parametrize("outage_s", [0.0, 1.2])
def test_notify_exactly_once_when_the_database_refuses_to_record_sent(db, smtp, outage_s):
    """Before: the claim went stale while 'sent' could not be written, and the e-mail was
    sent again with the same Message-ID."""
    inbox, settings = smtp
    _email_enquiries(db, 3)
    refused = RefusedWrites(db, outage_s)
    worker = OutboxWorker(db, settings, stale_claim_s=LEASE_S)
    try:
        deliver_for(worker, outage_s + 1.0)  # well past the lease
    finally:
        refused.remove()
    assert refused.refused >= 1, "the database did refuse"
    ids = message_ids(inbox)
    assert len(ids) == 3 and set(ids.values()) == {1}, ids
    assert count_by_status(db) == {"sent": 3}


def test_notify_a_claim_taken_over_is_not_sent_by_its_old_worker(db, smtp):
    """Before: a worker whose claim went stale (a slow batch) sent the message as well as
    the worker that took it over."""
    inbox, settings = smtp
    _email_enquiries(db, 1)
    slow = OutboxWorker(db, settings, stale_claim_s=LEASE_S)
    (claimed,) = slow.claim()
    time.sleep(LEASE_S + 0.1)
    other = OutboxWorker(db, settings, stale_claim_s=LEASE_S)
    assert other.claim() == [claimed]
    assert slow.deliver(claimed) is False
    assert other.deliver(claimed) is True
    assert len(inbox.messages) == 1 and count_by_status(db) == {"sent": 1}


def test_notify_a_worker_dead_after_sending_is_resent_only_after_its_lease(db, smtp):
    """At least once: a worker that dies between the send and its record. The message is
    sent again only once its lease is over, with the same Message-ID."""
    inbox, settings = smtp
    _email_enquiries(db, 1)
    lease_s = 3.0  # longer than the dead worker's own tries to record
    refused = RefusedWrites(db, outage_s=60)
    dead = OutboxWorker(db, settings, stale_claim_s=lease_s)
    try:
        assert dead.run_once() == 1  # sent; 'sent' never recorded, then the worker dies
    finally:
        refused.remove()
    alive = OutboxWorker(db, settings, stale_claim_s=lease_s)
    assert alive.run_once() == 0 and len(inbox.messages) == 1, "not within the lease"
    time.sleep(lease_s)
    assert alive.run_once() == 1
    ids = message_ids(inbox)
    assert list(ids.values()) == [2], "the same message, recognisable by its Message-ID"
    assert count_by_status(db) == {"sent": 1}
