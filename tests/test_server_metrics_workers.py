"""Metrics that add up: `bpbot serve --workers 2` answers /metrics for both workers."""

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.browser import free_port, wait_ready
from tests.conftest import ROOT, _empty_database


def live_pids(text: str) -> list[str]:
    """The worker pids that report a model (value 1)."""
    return sorted(set(re.findall(r'^bpbot_model_info\{[^}]*pid="(\d+)"[^}]*\} 1\.0$', text,
                                 re.M)))


def total(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_counters_of_two_workers_add_up_in_every_scrape(postgres_url, trained_model_dir,
                                                        tmp_path):
    db = _empty_database(postgres_url)
    port = free_port()
    env = {**os.environ, "BPBOT_DATABASE_URL": postgres_url, "BPBOT_ENVIRONMENT": "test",
           "BPBOT_MODELS_PATH": str(trained_model_dir), "BPBOT_OUTBOX_INTERVAL_S": "0",
           "BPBOT_RATE_LIMIT_PER_MINUTE": "100000", "HF_HUB_OFFLINE": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    exe = os.path.join(os.path.dirname(sys.executable), "bpbot")
    server = subprocess.Popen([exe, "serve", "--port", str(port), "--workers", "2"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        for i in range(24):  # new connections: the kernel spreads them over the workers
            httpx.post(url + "/webhooks/rest/webhook", timeout=60, json={
                "sender": f"metrics-{i}", "message": "hei"}).raise_for_status()
        scrapes = [httpx.get(url + "/metrics", timeout=10).text for _ in range(12)]
        # A worker killed (out of memory, say) is replaced; its model id leaves the sum.
        killed = int(live_pids(scrapes[0])[0])
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                after = live_pids(httpx.get(url + "/metrics", timeout=5).text)
            except httpx.HTTPError:
                after = []
            if len(after) == 2 and str(killed) not in after:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the killed worker {killed} is still counted: {after}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        db.dispose()
    # Every scrape, whichever worker answered, counts all 24 messages.
    assert [total(s, "bpbot_messages_total") for s in scrapes] == [24.0] * 12
    assert len(live_pids(scrapes[0])) == 2, scrapes[0]  # each worker reports its model id
    assert re.search(r'^bpbot_build_info\{[^}]*version="[^"]+"', scrapes[0], re.M)
