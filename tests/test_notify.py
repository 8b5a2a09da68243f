import hashlib
import hmac
import json
import logging
import threading
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
