"""Failing well: a bad setting or an unwritable database at start, a full disk while serving."""

import os
import subprocess
import sys
import time

from fastapi.testclient import TestClient
from sqlalchemy import event

from bot.agent import Agent
from bot.server.app import create_app
from bot.store.db import Database
from tests.chat import keeping_tokens
from tests.conftest import ROOT


def serve(env_update, tmp_path):
    env = {**os.environ, "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1", **env_update}
    bpbot = os.path.join(os.path.dirname(sys.executable), "bpbot")
    return subprocess.run([bpbot, "serve", "--port", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_production_secret_is_one_line_naming_the_setting(tmp_path):
    """Before: a 54-line traceback."""
    result = serve({"BPBOT_ENVIRONMENT": "production",
                    "BPBOT_DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BPBOT_WEBHOOK_SECRET" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_read_only_database_at_start_is_one_line_and_exit_2(tmp_path):
    """Before: a raw traceback and, under a supervisor, a restart loop."""
    path = tmp_path / "ro.sqlite3"
    Database(f"sqlite:///{path}").dispose()  # the schema exists; the file is then read-only
    result = serve({"BPBOT_DATABASE_URL": f"sqlite:///file:{path}?mode=ro&uri=true"},
                   tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be written" in lines[0], result.stderr
    assert "readonly" in lines[0]


def test_full_database_gives_503_and_not_ready_then_recovers(project_settings, router,
                                                             tmp_path):
    """Before: while the disk was full every message was a 500 and /readyz said ready."""
    settings = project_settings.model_copy(update={
        "database_url": f"sqlite:///{tmp_path}/full.sqlite3", "outbox_interval_s": 0,
        "store_failure_window_s": 0.5})
    agent = Agent.load(settings, router=router)
    engine = agent.store.db.engine

    def full(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA max_page_count = 1")  # no page more than it has: SQLITE_FULL
        cursor.close()

    with keeping_tokens(TestClient(create_app(settings, agent=agent))) as client:
        assert client.get("/readyz").status_code == 200
        event.listen(engine, "connect", full)
        engine.dispose()
        blob = "Haluaisin hakea terassilupaa kahvilalle kesäksi. " * 30
        response = client.post("/webhooks/rest/webhook",
                               json={"sender": "full-1", "message": blob})
        assert response.status_code == 503, response.text
        assert "cannot be written" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
        assert client.get("/readyz").status_code == 503
        event.remove(engine, "connect", full)
        engine.dispose()
        time.sleep(0.6)
        assert client.get("/readyz").status_code == 200
        assert client.post("/webhooks/rest/webhook",
                           json={"sender": "full-1", "message": blob}).status_code == 200
