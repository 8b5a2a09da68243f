"""Logging under `bpbot serve`: one configuration, masking on every handler, JSON lines."""

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.browser import free_port, wait_ready
from tests.conftest import ROOT


def test_bpbot_serve_logs_json_lines_with_identity_codes_masked(trained_model_dir, tmp_path):
    """Before: uvicorn's logging replaced the masking filter (identity codes reached the
    logs) and the project's INFO lines were lost."""
    port = free_port()
    env = {**os.environ, "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1",
           "BPBOT_DATABASE_URL": f"sqlite:///{tmp_path}/log.sqlite3",
           "BPBOT_MODELS_PATH": str(trained_model_dir), "BPBOT_LOG_FORMAT": "json",
           "BPBOT_OUTBOX_INTERVAL_S": "0"}
    bpbot = os.path.join(os.path.dirname(sys.executable), "bpbot")
    server = subprocess.Popen([bpbot, "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", server)
        httpx.get(f"http://127.0.0.1:{port}/staff/enquiries/131052-308T?hetu=131052-308T",
                  timeout=10)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("Ready: model") for m in messages), messages  # project INFO
    access = [m for m in messages if "/staff/enquiries/" in m]
    assert access, messages  # uvicorn's access line, through the same handler
    assert "131052-308T" not in stderr
    assert {"time", "level", "logger", "message"} <= set(lines[0])


CUSTOMER = ["Haluaisin hakea terassilupaa kahvilalle kesäksi", "kyllä", "Maija Meikäläinen",
            "Kahvila Kanteleen Tmi", "maija@kahvila.example.fi", "/affirm"]
BY_PHONE = ["Haluaisin hakea terassilupaa kahvilalle kesäksi", "kyllä", "Matti Virtanen",
            "Virtasen Kahvila Oy", "040 123 4567", "/affirm"]
SECRET = "the log test's session secret"


def _chat(url, sender, texts, tokens):
    replies = []
    for text in texts:
        headers = {"X-Conversation-Token": tokens[sender]} if sender in tokens else {}
        response = httpx.post(url + "/webhooks/rest/webhook", headers=headers, timeout=60,
                              json={"sender": sender, "message": text})
        assert response.status_code == 200, response.text
        tokens.setdefault(sender, response.headers.get("X-Conversation-Token"))
        replies = [m.get("text") or "" for m in response.json()]
    return replies


def _wait_for(condition, seconds=30):
    import time

    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


@pytest.mark.parametrize(("workers", "log_format"), [(1, "plain"), (2, "json")])
def test_bpbot_serve_logs_no_email_phone_name_or_rating_token(
        trained_model_dir, tmp_path, request, workers, log_format):
    """Before: the outbox logged every customer's e-mail address (294 in one 60 s run) and
    uvicorn's access line printed the rating link's token."""
    from aiosmtpd.controller import Controller
    from sqlalchemy import select

    from bot.nlu.validators import EMAIL
    from bot.store import ratings
    from bot.store.models import OutboxMessage
    from tests.conftest import _empty_database
    from tests.test_process_restart import Inbox

    if workers > 1:  # several workers need PostgreSQL
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path}/log.sqlite3"
    db = _empty_database(url)
    inbox, smtp_port, port = Inbox(), free_port(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1",
           "BPBOT_DATABASE_URL": url, "BPBOT_MODELS_PATH": str(trained_model_dir),
           "BPBOT_LOG_FORMAT": log_format, "BPBOT_OUTBOX_INTERVAL_S": "0.2",
           "BPBOT_SMTP_HOST": "127.0.0.1", "BPBOT_SMTP_PORT": str(smtp_port),
           "BPBOT_SESSION_SECRET": SECRET, "BPBOT_PUBLIC_URL": base,
           "BPBOT_RATE_LIMIT_PER_MINUTE": "100000"}
    bpbot = os.path.join(os.path.dirname(sys.executable), "bpbot")
    server = subprocess.Popen([bpbot, "serve", "--port", str(port), "--workers",
                               str(workers)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(base, server)
        tokens: dict[str, str] = {}
        replies = _chat(base, "log-email", CUSTOMER, tokens)
        reference = next(w.strip(".,:") for r in replies for w in r.split() if "BP-" in w)
        _chat(base, "log-phone", BY_PHONE, tokens)
        assert _wait_for(lambda: len(inbox.messages) >= 2), inbox.messages  # unit + copy
        assert ratings.request_rating(db, reference, base, SECRET)
        with db.session() as session:
            body = session.scalars(select(OutboxMessage.body).where(
                OutboxMessage.idempotency_key == f"{reference}:rating")).one()
        link = next(w for w in body.split() if w.startswith(base) and "score=4" in w)
        token = link.split("token=")[1]
        assert httpx.get(link, timeout=10).status_code == 200
        assert httpx.post(f"{base}/rate/{reference}", timeout=10, data={
            "score": 4, "token": token}).status_code == 200
        for probe in ("/staff/login?contact=maija@kahvila.example.fi&phone=040%201234567",
                      f"/staff/login?email=maija%40kahvila.example.fi&token={token}",
                      "/rate/maija@kahvila.example.fi?phone=%2B358401234567"):
            httpx.get(base + probe, timeout=10)

        def rating_sent():
            with db.session() as session:
                return session.scalars(select(OutboxMessage.status).where(
                    OutboxMessage.idempotency_key == f"{reference}:rating")).one() == "sent"

        assert _wait_for(rating_sent)  # its "Delivered" line logged too
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
        controller.stop()
        db.dispose()
    assert "Delivered email" in stderr, stderr[-3000:]
    assert "contact=[email]&phone=[phone]" in stderr, stderr[-3000:]  # the access lines
    assert f"/rate/{reference}?score=4&token=[token]" in stderr, stderr[-3000:]
    assert EMAIL.findall(stderr) == [] and "%40" not in stderr
    assert token not in stderr and token.split("-")[1] not in stderr
    for personal in ("040 123 4567", "040%201234567", "358401234567", "Meikäläinen",
                     "Virtanen"):
        assert personal not in stderr


MASKED = [
    ("Delivered email BP-2026-000123:email:maija@kahvila.example.fi", "maija@",
     "BP-2026-000123:email:[email]"),
    ('"GET /rate/BP-2026-000001?score=4&token=1765000000-0123456789abcdef HTTP/1.1"',
     "1765000000", "score=4&token=[token]"),
    ("GET /chat?access_token=s3cr3t&lang=fi", "s3cr3t", "access_token=[token]&lang=fi"),
    ("/webhooks/rest/conversations/0123456789abcdef0123456789abcdef/tracker", "0123456789ab",
     "/conversations/[token]/tracker"),
    ("/staff/login?contact=maija%40kahvila.example.fi", "%40", "contact=[email]"),
    ("soita 040 123 4567 tai +358 40 765 4321", "4567", "soita [phone] tai [phone]"),
    ("hetu 131052-308T", "131052-308T", "hetu [henkilötunnus]"),
    ("[SQL: INSERT INTO enquiry ...]\n[parameters: ('Maija', 'maija@x.fi', '040 1234567')]"
     "\n(Background on this error at: https://sqlalche.me/e/21/gkpj)", "Maija",
     "[parameters: masked]"),
]
KEPT = ["BP-2026-000123 delivered", "Ready: model 20261204-192047-910e9b46, sqlite database",
        '127.0.0.1:45960 - "GET /readyz HTTP/1.1" 200', "/staff?since=2026-01-01&unit=streets"]


@pytest.mark.parametrize(("text", "gone", "shown"), MASKED)
def test_logs_mask_personal_data_and_url_tokens(text, gone, shown):
    from bot.logs import mask_text

    masked = mask_text(text)
    assert gone not in masked and shown in masked, masked


@pytest.mark.parametrize("text", KEPT)
def test_logs_keep_references_model_ids_and_addresses(text):
    from bot.logs import mask_text

    assert mask_text(text) == text


@pytest.mark.parametrize("path", ["/rate/BP-2026-000001?score=4&token=1765000000-abcdef0"])
def test_logs_uvicorn_access_formatter_still_formats_masked_records(path):
    """uvicorn's own access formatter unpacks the arguments: they stay five, masked."""
    import logging

    from uvicorn.logging import AccessFormatter

    from bot.logs import MaskingFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", path, "1.1",
                                                           200), None)
    assert MaskingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(
        record)
    assert "token=[token]" in line and "1765000000" not in line, line


@pytest.mark.parametrize("name", ["Maija Meikäläinen"])
def test_logs_mask_tracebacks_and_the_values_named_personal(name):
    """A traceback is masked as well as the message; a name is masked where it is known."""
    import io
    import logging

    from bot.logs import MaskingFilter, personal_values

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("bot.test_masking")
    logger.addHandler(handler)
    try:
        with personal_values(name, None, "Oy"):
            try:
                raise ValueError(f"cannot store {name} <maija@kahvila.example.fi>")
            except ValueError:
                logger.exception("Storing an enquiry for %s failed", name)
        logger.warning("after the block: %s", "Kahvila")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert name not in written and "maija@" not in written, written
    assert written.count("[name]") == 2 and "[email]" in written and "Kahvila" in written
