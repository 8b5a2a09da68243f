import email
import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from bot.notify.outbox import OutboxWorker, sign
from bot.settings import Settings
from bot.store.enquiries import NewEnquiry, create_enquiry
from bot.store.privacy import MaskingFilter

SECRET = "a-test-secret-of-enough-length"


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received, Receiver.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def make_enquiry(db, url):
    from bot.notify.messages import webhook_payload
    from bot.store.enquiries import Notification

    new = NewEnquiry("s", "sv", "sv", "terrace_permit", 0.9, "streets",
                     "street-permits@example.fi", "Anna", "Café Ab", None, "anna@example.fi",
                     None, "2026-11", "Uteservering", [{"from": "customer", "text": "x"}])
    return create_enquiry(db, new, render=lambda e: [
        Notification("webhook", url, None, webhook_payload(e))])


def test_notify_webhook_is_signed_and_retried(db, receiver):
    settings = Settings(environment="test", webhook_secret=SECRET, outbox_backoff_s=0.01)
    _, reference = make_enquiry(db, receiver)
    worker = OutboxWorker(db, settings)
    Receiver.status = 503
    assert worker.run_once() == 0
    import time

    time.sleep(0.05)
    Receiver.status = 200
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    headers, body = Receiver.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Bpbot-Signature"] == expected == sign(body, SECRET)
    payload = json.loads(body)
    assert payload["reference"] == reference and payload["customer"]["name"] == "Anna"
    assert len(Receiver.received) == 2


def test_notify_gives_up_after_the_last_attempt(db, receiver):
    settings = Settings(environment="test", outbox_max_attempts=2, outbox_backoff_s=0.001)
    make_enquiry(db, receiver)
    Receiver.status = 500
    worker = OutboxWorker(db, settings)
    import time

    for _ in range(3):
        worker.run_once()
        time.sleep(0.01)
    (message,) = worker.pending()
    assert message.status == "failed" and message.attempts == 2
    assert "500" in message.last_error


def test_notify_logs_mask_personal_ids(caplog):
    logger = logging.getLogger("bpbot-test-mask")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="bpbot-test-mask"):
        logger.info("user wrote %s", "hetu 131052-308T")
    assert "131052-308T" not in caplog.text and "[henkilötunnus]" in caplog.text


def test_notify_production_refuses_default_secrets():
    with pytest.raises(ValueError, match="BPBOT_WEBHOOK_SECRET"):
        Settings(environment="production")
    Settings(environment="production", webhook_secret=SECRET, session_secret=SECRET)


def _email_enquiries(db, count):
    from bot.store.enquiries import Notification

    references = []
    for i in range(count):
        new = NewEnquiry(f"mail-{i}", "fi", "fi", "terrace_permit", 0.9, "streets",
                         "street-permits@example.fi", "Maija", "Kahvila Oy", None,
                         f"maija{i}@example.fi", None, "2026-11", "Terassi",
                         [{"from": "customer", "text": "x"}])
        references.append(create_enquiry(db, new, render=lambda e: [
            Notification("email", "street-permits@example.fi", f"Kysely {e.reference}",
                         "body")])[1])
    return references


def test_notify_smtp_down_past_the_budget_then_retry_sends_each_exactly_once(db, tmp_path,
                                                                             monkeypatch):
    """Before: enquiries whose customers had a reference ended 'failed' and nothing
    queued them again."""
    from aiosmtpd.controller import Controller
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.notify.outbox import count_by_status, failed_deliveries
    from tests.browser import free_port
    from tests.test_process_restart import Inbox

    port = free_port()
    settings = Settings(environment="test", smtp_port=port, outbox_max_attempts=2,
                        outbox_backoff_s=0.001, smtp_timeout_s=2)
    references = _email_enquiries(db, 3)
    worker = OutboxWorker(db, settings)
    for _ in range(3):  # SMTP is down: every attempt fails, then the messages give up
        worker.run_once()
        time.sleep(0.01)
    assert count_by_status(db) == {"failed": 3}
    assert [f[0] for f in failed_deliveries(db)] == references
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        worker.run_once()
        assert inbox.messages == []  # failed stays failed until someone retries
        monkeypatch.setenv("BPBOT_DATABASE_URL", db.url)
        from bot.settings import get_settings

        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["outbox", "retry"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0 and "Queued 3" in result.output, result.output
        for _ in range(3):
            worker.run_once()
        assert worker.retry_failed() == 0  # nothing failed any more; sent ones stay sent
        worker.run_once()
    finally:
        controller.stop()
    subjects = sorted(m.content.decode().split("Subject: ")[1].split("\n")[0].strip()
                      for m in inbox.messages)
    assert subjects == sorted(f"Kysely {r}" for r in references)  # each exactly once
    assert count_by_status(db) == {"sent": 3}


def test_notify_claim_of_a_dead_worker_is_taken_again_within_a_minute(db, receiver):
    """Before: after a database restart claimed messages stayed 'sending' for 5 minutes."""
    from datetime import UTC, datetime, timedelta

    settings = Settings(environment="test")
    make_enquiry(db, receiver)
    dead = OutboxWorker(db, settings)
    assert len(dead.claim()) == 1  # claimed, then the worker died before sending
    alive = OutboxWorker(db, settings)
    assert alive.claim() == []
    assert alive.claim(now=datetime.now(UTC) + timedelta(seconds=59)) != []


def test_notify_message_id_is_the_same_on_every_resend(db):
    """The Message-ID comes from the outbox row's idempotency key, not the attempt."""
    from aiosmtpd.controller import Controller
    from sqlalchemy import update

    from bot.store.models import OutboxMessage
    from tests.browser import free_port
    from tests.test_process_restart import Inbox

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        worker = OutboxWorker(db, Settings(environment="test", smtp_port=port))
        _email_enquiries(db, 1)
        assert worker.run_once() == 1
        with db.session() as session:  # queued again, as if by hand
            session.execute(update(OutboxMessage).values(status="pending"))
        assert worker.run_once() == 1
    finally:
        controller.stop()
    first, second = (email.message_from_bytes(m.content) for m in inbox.messages)
    assert first["Message-ID"] == second["Message-ID"]
