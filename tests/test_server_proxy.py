"""Behind a real nginx on loopback, two server processes on PostgreSQL.

nginx (Debian package, started here) connects to the servers from 127.0.0.2, the one
trusted proxy; clients connect to nginx from 127.0.0.1. The rate limit holds across both
processes, a spoofed X-Forwarded-For changes nothing, and a process killed with SIGKILL in
the middle of the load loses and duplicates no enquiry.
"""

import asyncio
import signal

import httpx
import pytest
from sqlalchemy import func, select

from tests.browser import free_port, wait_ready
from tests.chat import keeping_tokens
from tests.conftest import _empty_database
from tests.nginx import nginx_root, server_env, start_nginx, start_two_servers, stop

HTTP = """
    upstream bpbot {{ server 127.0.0.1:{one} max_fails=1 fail_timeout=30s;
                      server 127.0.0.1:{two} max_fails=1 fail_timeout=30s; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://bpbot;
            proxy_bind 127.0.0.2;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout;
        }}
    }}
"""


@pytest.fixture()
def behind_nginx(postgres_url, trained_model_dir, tmp_path):
    db = _empty_database(postgres_url)
    ports, servers = start_two_servers(server_env(
        postgres_url, trained_model_dir, BPBOT_TRUSTED_PROXIES='["127.0.0.2"]',
        BPBOT_RATE_LIMIT_PER_MINUTE="40", BPBOT_TURN_LEASE_S="5"))
    port = free_port()
    proxy = start_nginx(nginx_root(tmp_path),
                        HTTP.format(one=ports[0], two=ports[1], port=port))
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proxy, seconds=20)
    yield url, servers, db
    stop(proxy, servers)
    db.dispose()


def test_rate_limit_holds_across_processes_and_spoofing_changes_nothing(behind_nginx):
    url, _, _ = behind_nginx
    codes = []
    with keeping_tokens(httpx.Client(timeout=60)) as client:
        for i in range(45):
            spoofed = {"X-Forwarded-For": f"198.51.100.{i}"}  # a new "address" every time
            codes.append(client.post(url + "/webhooks/rest/webhook", headers=spoofed, json={
                "sender": f"proxy-limit-{i}", "message": "hei"}).status_code)
    # 40 per minute for the one real client, whichever process (of two) answered.
    assert codes.count(200) == 40 and codes.count(429) == 5, codes


def test_sigkill_mid_load_loses_and_duplicates_no_enquiry(behind_nginx):
    from bot.store.models import Enquiry, OutboxMessage
    from tests.test_process_restart import HAPPY_PATH_FI

    url, servers, db = behind_nginx
    retries, answered, at_kill = [], [], []

    async def say(client, sender, text):
        for _ in range(40):  # the widget's customer sends again after an error
            response = await client.post(url + "/webhooks/rest/webhook",
                                         json={"sender": sender, "message": text})
            if response.status_code == 200:
                answered.append(sender)
                return [m.get("text") or "" for m in response.json()]
            assert response.status_code in (502, 503, 504), response.text
            retries.append(response.status_code)
            await asyncio.sleep(0.5)
        pytest.fail(f"{sender}: no answer to {text!r}")

    async def conversation(n):
        # Each customer from an address of their own (each has the limit of one address).
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.1.{n + 1}")
        async with keeping_tokens(httpx.AsyncClient(timeout=60, transport=transport)) as client:
            replies = []
            for text in HAPPY_PATH_FI:
                replies = await say(client, f"kill-mid-{n}", text)
        return any("BP-" in r for r in replies)

    async def killer():
        while len(answered) < 20:  # in the middle of the load
            await asyncio.sleep(0.01)
        servers[0].send_signal(signal.SIGKILL)
        at_kill.append(len(answered))

    async def main():
        results = asyncio.gather(*(conversation(n) for n in range(16)))
        await killer()
        return await results

    results = asyncio.run(main())
    assert servers[0].wait(timeout=10) == -signal.SIGKILL
    assert at_kill[0] < len(HAPPY_PATH_FI) * 16 - 20, "the load ended before the kill"
    assert all(results), results
    with db.session() as session:
        per_conversation = dict(session.execute(
            select(Enquiry.sender_id, func.count()).group_by(Enquiry.sender_id)).all())
        keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
    assert per_conversation == {f"kill-mid-{n}": 1 for n in range(16)}, per_conversation
    assert len(keys) == len(set(keys))
    print("client retries after the kill:", len(retries))
