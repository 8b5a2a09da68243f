"""Restarts: the conversation and the outbox survive the process."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

HAPPY_PATH_FI = ["Haluaisin hakea terassilupaa kahvilalle kesäksi", "kyllä",
                 "Maija Meikäläinen", "Kahvila Kanteleen Tmi", "maija@kahvila.example.fi",
                 "/affirm"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def play(model, db_url, smtp_port, sender, messages, *flags):
    env = {**os.environ, "BPBOT_DATABASE_URL": db_url, "BPBOT_SMTP_HOST": "127.0.0.1",
           "BPBOT_SMTP_PORT": str(smtp_port), "BPBOT_OUTBOX_BACKOFF_S": "0.01",
           "BPBOT_SMTP_TIMEOUT_S": "5", "BPBOT_ENVIRONMENT": "test"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.play_process", "--model", str(model), "--sender",
         sender, *flags, *messages], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(("[", "{"))]
    return proc, lines


def test_process_killed_mid_conversation_continues(trained_model_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    proc, _ = play(trained_model_dir, url, 1, "kill-1", HAPPY_PATH_FI[:3], "--kill")
    assert proc.returncode == -9, proc.stderr
    proc, replies = play(trained_model_dir, url, 1, "kill-1", HAPPY_PATH_FI[3:4])
    assert proc.returncode == 0, proc.stderr
    assert "sähköpostiosoitteella" in " ".join(replies[0]), replies


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


def test_process_restart_with_smtp_down_delivers_exactly_one_email(trained_model_dir,
                                                                   tmp_path):
    from aiosmtpd.controller import Controller

    from bot.store.db import Database
    from bot.store.models import OutboxMessage

    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    port = free_port()  # nothing listens here yet: the SMTP server is down
    proc, replies = play(trained_model_dir, url, port, "smtp-1", HAPPY_PATH_FI, "--deliver")
    assert proc.returncode == 0, proc.stderr
    assert "BP-" in " ".join(replies[-2]) and replies[-1] == {"sent": 0}
    db = Database(url)
    with db.session() as session:
        queued = session.query(OutboxMessage).all()
        assert len(queued) == 2, "the unit's e-mail and the customer's copy"
        for message in queued:
            assert message.status == "pending" and message.attempts == 1
            error = message.last_error or ""
            assert "Connection" in error or "refused" in error
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time.sleep(0.1)
        proc, lines = play(trained_model_dir, url, port, "smtp-1", [], "--deliver")
        assert lines == [{"sent": 2}], proc.stderr
        proc, lines = play(trained_model_dir, url, port, "smtp-1", [], "--deliver")
        assert lines == [{"sent": 0}], proc.stderr
    finally:
        controller.stop()
    assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [
        "maija@kahvila.example.fi", "street-permits@example.fi"]
    mail = next(m for m in inbox.messages if m.rcpt_tos == ["street-permits@example.fi"])
    body = mail.content.decode("utf-8", "replace")
    assert "BP-" in body and "maija@kahvila.example.fi" in body


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_process_outbox_claims_each_message_once(kind, request, tmp_path):
    from bot.notify.outbox import OutboxWorker
    from bot.settings import Settings
    from bot.store.enquiries import NewEnquiry, Notification, create_enquiry
    from tests.conftest import _empty_database

    url = (f"sqlite:///{tmp_path}/o.sqlite3" if kind == "sqlite"
           else request.getfixturevalue("postgres_url"))
    db = _empty_database(url)
    new = NewEnquiry("s", "fi", "fi", "terrace_permit", 0.9, "streets", "streets@example.fi",
                     "Maija", None, None, "m@example.fi", None, "v1", "terassi")
    for _ in range(5):
        create_enquiry(db, new, [Notification("email", "streets@example.fi", "s", "b")])
    settings = Settings(environment="test")
    first, second = OutboxWorker(db, settings), OutboxWorker(db, settings)
    a, b = first.claim(limit=3), second.claim(limit=10)
    assert len(a) == 3 and len(b) == 2 and not set(a) & set(b)
    db.dispose()
