"""Two `bpbot serve` processes sharing one PostgreSQL: one conversation, one e-mail."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from tests.browser import free_port, wait_ready
from tests.chat import keeping_tokens
from tests.conftest import ROOT, _empty_database
from tests.test_process_restart import HAPPY_PATH_FI, Inbox


@pytest.fixture(scope="module")
def two_servers(postgres_url, trained_model_dir):
    from aiosmtpd.controller import Controller

    db = _empty_database(postgres_url)
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {**os.environ, "BPBOT_DATABASE_URL": postgres_url,
           "BPBOT_MODELS_PATH": str(trained_model_dir), "BPBOT_SMTP_PORT": str(smtp_port),
           "BPBOT_OUTBOX_INTERVAL_S": "0.2", "BPBOT_RATE_LIMIT_PER_MINUTE": "100000",
           "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1"}
    servers, urls = [], []
    for _ in range(2):
        port = free_port()
        servers.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bot.server.app:app_from_environment",
             "--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level",
             "warning"], cwd=ROOT, env=env))
        urls.append(f"http://127.0.0.1:{port}")
    for url, server in zip(urls, servers, strict=True):
        wait_ready(url, server)
    yield urls, inbox, db
    for server in servers:
        server.terminate()
        server.wait(timeout=30)
    controller.stop()
    db.dispose()


TOKENS: dict = {}  # each conversation's token, as a Rasa REST client keeps it


def post(url, sender, text):
    headers = {"X-Conversation-Token": TOKENS[sender]} if sender in TOKENS else {}
    response = httpx.post(url + "/webhooks/rest/webhook", headers=headers,
                          json={"sender": sender, "message": text}, timeout=60)
    assert response.status_code == 200, response.text
    if "X-Conversation-Token" in response.headers:
        TOKENS[sender] = response.headers["X-Conversation-Token"]
    return [m.get("text") or "" for m in response.json()]


def test_two_processes_continue_one_conversation_and_send_one_email(two_servers):
    urls, inbox, _ = two_servers
    replies = []
    for i, text in enumerate(HAPPY_PATH_FI):
        replies = post(urls[i % 2], "two-proc-1", text)
    assert any("BP-" in r for r in replies), replies
    deadline = time.monotonic() + 20
    while len(inbox.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # both workers had time to (wrongly) send them again
    assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [
        "maija@kahvila.example.fi", "street-permits@example.fi"], "each exactly once"


def test_two_processes_take_turns_on_concurrent_messages(two_servers):
    from bot.store.models import ConversationEvent

    urls, _, db = two_servers
    post(urls[0], "two-proc-2", "hei")  # the conversation's start, which gives its token
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda i: post(urls[i % 2], "two-proc-2", f"kiitos {i}"),
                                range(10)))
    assert all(results)
    with db.session() as session:
        rows = session.execute(select(ConversationEvent.seq, ConversationEvent.type).where(
            ConversationEvent.sender_id == "two-proc-2").order_by(ConversationEvent.seq)).all()
    assert [seq for seq, _ in rows] == list(range(len(rows)))
    assert sum(kind == "user" for _, kind in rows) == 11


def test_forty_conversations_at_once_on_one_process_all_end_with_a_reference(two_servers):
    """No turn holds a connection across the NLU and the actions, and none blocks the loop.

    (Before: each turn held a pooled connection and waited for a second one on the event
    loop; beyond ~15 conversations the process froze and /healthz took 30-120 s.)
    """
    import asyncio

    url = two_servers[0][0]
    health: list[float] = []

    async def conversation(client, n):
        replies = []
        for text in HAPPY_PATH_FI:
            response = await client.post(url + "/webhooks/rest/webhook", json={
                "sender": f"forty-{n}", "message": text})
            assert response.status_code == 200, response.text
            replies = [m.get("text") or "" for m in response.json()]
        return any("BP-" in r for r in replies)

    async def watch_health(client, done):
        while not done.is_set():
            started = time.perf_counter()
            assert (await client.get(url + "/healthz")).status_code == 200
            health.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)

    async def main():
        limits = httpx.Limits(max_connections=100)
        async with keeping_tokens(httpx.AsyncClient(timeout=120, limits=limits)) as client:
            done = asyncio.Event()
            watcher = asyncio.create_task(watch_health(client, done))
            results = await asyncio.gather(*(conversation(client, n) for n in range(40)))
            done.set()
            await watcher
        return results

    results = asyncio.run(main())
    assert all(results), f"{results.count(False)} of 40 ended without a reference"
    health.sort()
    p95 = health[int(len(health) * 0.95) - 1] if health else None
    print(f"40 conversations: /healthz p95 {p95:.3f} s over {len(health)} probes")
    assert p95 is not None and p95 < 1.0, health[-5:]
