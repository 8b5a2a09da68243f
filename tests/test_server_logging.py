"""Logging under `bpbot serve`: one configuration, masking on every handler, JSON lines."""

import json
import os
import subprocess
import sys

import httpx

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
