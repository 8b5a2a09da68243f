"""The deploy kit's files name real settings and commands; the image builds where it can."""

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from bot.settings import Settings
from tests.browser import free_port
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SETTINGS = {"BPBOT_" + name.upper() for name in Settings.model_fields}


def _bpbot_commands(text: str) -> list[list[str]]:
    """The bpbot command lines (words up to the first option) in a text."""
    found = []
    for match in re.finditer(r"bpbot((?: [a-z][a-z-]*)+)", text):
        words = match.group(1).split()
        if words and words[0] in {"serve", "db", "purge", "models", "outbox", "train", "staff"}:
            found.append(words[:2] if words[0] in {"db", "models", "outbox", "staff"} else
                         words[:1])
    return found


def test_every_setting_named_in_the_kit_exists():
    named = set()
    for path in [DEPLOY / "bpbot.env.example", DEPLOY / "compose.yaml",
                 *DEPLOY.glob("systemd/*"), ROOT / "docs" / "operations.md"]:
        named |= set(re.findall(r"\bBPBOT_[A-Z_]+[A-Z]", path.read_text()))
    # deploy/backup.sh's own, and the embedder's cache folder (bot/nlu/embedders.py)
    named -= {"BPBOT_BACKUP_DIR", "BPBOT_BACKUP_KEEP_DAYS", "BPBOT_CACHE_DIR"}
    assert named and named <= SETTINGS, sorted(named - SETTINGS)
    example = dict(line.split("=", 1) for line in (DEPLOY / "bpbot.env.example").read_text()
                   .splitlines() if line and not line.startswith("#"))
    assert example["BPBOT_ENVIRONMENT"] == "production"


def test_every_bpbot_command_in_the_kit_exists():
    exe = os.path.join(os.path.dirname(sys.executable), "bpbot")
    commands = set()
    for path in [DEPLOY / "compose.yaml", DEPLOY / "Dockerfile", *DEPLOY.glob("systemd/*"),
                 ROOT / "docs" / "operations.md"]:
        commands |= {tuple(c) for c in _bpbot_commands(path.read_text())}
    assert ("serve",) in commands and ("db", "upgrade") in commands
    for command in sorted(commands):
        result = subprocess.run([exe, *command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"bpbot {' '.join(command)}: {result.stderr}"


def test_compose_runs_the_upgrade_before_two_app_processes_behind_the_shipped_nginx():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "upgrade", "app1", "app2", "proxy", "smtp"} <= set(services)
    assert services["upgrade"]["command"] == ["bpbot", "db", "upgrade"]
    ports = set()
    for name in ("app1", "app2"):
        app = services[name]
        assert app["depends_on"]["upgrade"]["condition"] == "service_completed_successfully"
        assert app["network_mode"] == "service:proxy"
        ports.add(app["command"][app["command"].index("--port") + 1])
    nginx = (DEPLOY / "nginx" / "bpbot.conf").read_text()
    assert ports == set(re.findall(r"server 127\.0\.0\.1:(\d+)", nginx)) == {"5005", "5006"}
    assert "./nginx/bpbot.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"][
        "volumes"]


def test_the_image_is_multi_stage_non_root_and_built_by_the_setup_script():
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "RUN scripts/setup.sh" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}


def _engine_runs() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _engine_runs(), reason="no container engine runs on this machine "
                    "(docker's client alone cannot build); README says what was verified")
def test_the_image_builds_and_answers_ready(tmp_path):
    subprocess.run(["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t",
                    "bpbot:test", str(ROOT)], check=True, timeout=1800)
    port = free_port()
    name = f"bpbot-test-{port}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-p",
                    f"127.0.0.1:{port}:5005", "-e", "BPBOT_ENVIRONMENT=test",
                    "-e", "BPBOT_DATABASE_URL=sqlite:////var/cache/bpbot/bpbot.sqlite3",
                    "bpbot:test"], check=True, timeout=60)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("the container did not get ready within 120 s")
        user = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True,
                              text=True, check=True).stdout.strip()
        assert user != "0"
        reply = httpx.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", timeout=30,
                           json={"sender": "container", "message": "Hej"})
        assert reply.status_code == 200 and reply.json()
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_the_grafana_dashboard_queries_metrics_the_app_exports():
    import json

    from bot.server.metrics import REGISTRY

    board = json.loads((DEPLOY / "grafana" / "bpbot-dashboard.json").read_text())
    exported = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"],
                "gauge": [""]}
    for family in REGISTRY.collect():
        exported |= {family.name + suffix for suffix in suffixes[family.type]}
    queried = {name for panel in board["panels"] for target in panel["targets"]
               for name in re.findall(r"\bbpbot_[a-z_]+", target["expr"])}
    assert queried and queried <= exported, sorted(queried - exported)
    # The JSON is what deploy/grafana/make_dashboard.py writes (not edited by hand).
    sys.path.insert(0, str(DEPLOY / "grafana"))
    try:
        from make_dashboard import dashboard
    finally:
        sys.path.pop(0)
    assert board == json.loads(json.dumps(dashboard()))
