"""Under load: conversation leases, no connection held across a turn, a fair NLU queue."""

import asyncio
import random
import threading
import time

import pytest

from bot.agent import Agent
from bot.errors import ServerBusyError
from bot.fair import FairExecutor
from bot.store.db import Database
from tests.chat import keeping_tokens
from tests.test_process_restart import HAPPY_PATH_FI


def test_lease_is_exclusive_across_processes_and_runs_out(db):
    """Two stores on one database stand for two server processes."""
    from bot.store.trackers import SQLTrackerStore

    one, other = SQLTrackerStore(db), SQLTrackerStore(Database(db.url, create=False))
    assert one.lease("lease-1", "a" * 32, 60)
    assert not other.lease("lease-1", "b" * 32, 60)  # the first turn still runs
    assert other.lease("lease-2", "b" * 32, 60)  # another conversation is free
    one.append("lease-1", [{"event": "user", "text": "hei"}], 0, lease="a" * 32)
    assert other.lease("lease-1", "b" * 32, 0.2)  # storing the turn ended its lease
    time.sleep(0.3)
    assert one.lease("lease-1", "c" * 32, 60)  # a dead holder's lease ran out
    other.release("lease-1", "b" * 32)  # a stale release does not end another's lease
    assert not other.lease("lease-1", "d" * 32, 60)
    other.db.dispose()


def test_turns_hold_no_connection_across_the_nlu_and_actions(project_settings, router,
                                                              postgres_url):
    """With one pooled connection, eight conversations still all reach a reference.

    (Before: a turn held a connection from the start of the NLU to the end of its actions,
    which took a second one: a pool smaller than the conversations froze.)
    """
    from tests.conftest import _empty_database

    _empty_database(postgres_url).dispose()
    settings = project_settings.model_copy(update={
        "database_url": postgres_url, "db_pool_size": 1, "db_max_overflow": 0,
        "db_pool_timeout_s": 30.0})
    agent = Agent.load(settings, router=router, rng=random.Random(3))

    async def conversation(n):
        replies = []
        for text in HAPPY_PATH_FI:
            replies = await agent.handle_message(f"one-conn-{n}", text)
        return any("BP-" in (m.get("text") or "") for m in replies)

    async def main():
        try:
            return await asyncio.gather(*(conversation(n) for n in range(8)))
        finally:
            await agent.aclose()

    assert all(asyncio.run(main()))
    agent.store.db.dispose()


def test_busy_conversation_gets_503_with_retry_after(project_settings, router, postgres_url):
    """A turn that cannot take its conversation in time is refused clearly, not frozen."""
    from fastapi.testclient import TestClient

    from bot.server.app import create_app
    from tests.conftest import _empty_database

    _empty_database(postgres_url).dispose()
    settings = project_settings.model_copy(update={
        "database_url": postgres_url, "turn_wait_s": 0.3, "outbox_interval_s": 0})
    agent = Agent.load(settings, router=router)
    with keeping_tokens(TestClient(create_app(settings, agent=agent))) as client:
        assert client.post("/webhooks/rest/webhook",
                           json={"sender": "busy-1", "message": "Moi"}).status_code == 200
        # Another process holds the conversation's turn.
        assert agent.store.lease("busy-1", "f" * 32, 60)
        started = time.perf_counter()
        response = client.post("/webhooks/rest/webhook",
                               json={"sender": "busy-1", "message": "Hei"})
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert "try again" in response.json()["detail"]
        assert time.perf_counter() - started < 5
        # Other conversations go on meanwhile.
        assert client.post("/webhooks/rest/webhook",
                           json={"sender": "busy-2", "message": "Hei"}).status_code == 200
        agent.store.release("busy-1", "f" * 32)
        assert client.post("/webhooks/rest/webhook",
                           json={"sender": "busy-1", "message": "Hei"}).status_code == 200


def test_fair_queue_serves_clients_in_turn_and_is_bounded():
    order: list[str] = []
    gate = threading.Event()

    def job(name):
        gate.wait(5)
        order.append(name)
        return name

    async def main():
        fair = FairExecutor(1, max_waiting=10, max_waiting_per_key=5)
        first = asyncio.ensure_future(fair.run("flood", job, "flood-0"))
        await asyncio.sleep(0.05)  # the thread is busy with flood-0
        flood = [asyncio.ensure_future(fair.run("flood", job, f"flood-{i}"))
                 for i in range(1, 6)]
        await asyncio.sleep(0)
        other = asyncio.ensure_future(fair.run("other", job, "other"))
        await asyncio.sleep(0.05)
        with pytest.raises(ServerBusyError):  # one client's share is bounded
            await fair.run("flood", job, "flood-6")
        gate.set()
        await asyncio.gather(first, other, *flood)
        fair.shutdown()

    asyncio.run(main())
    # The other client waited for one flood job only, not for the five queued before it.
    assert order.index("other") == 2, order


def test_fair_queue_passes_errors_and_refuses_when_full():
    def boom():
        raise ValueError("bad")

    async def main():
        fair = FairExecutor(1, max_waiting=0)
        with pytest.raises(ServerBusyError):
            await fair.run("a", boom)
        fair = FairExecutor(1, max_waiting=4)
        with pytest.raises(ValueError, match="bad"):
            await fair.run("a", boom)
        fair.shutdown()

    asyncio.run(main())
