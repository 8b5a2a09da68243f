"""The deploy kit's files name real settings and commands and fit together.

tests/test_deploy_image.py and tests/test_deploy_compose.py build and run them.
"""

import os
import re
import subprocess
import sys

import yaml

from bot.settings import Settings
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


def test_compose_runs_the_upgrade_and_a_first_model_before_two_apps_behind_the_shipped_nginx():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "upgrade", "first-model", "app1", "app2", "proxy", "smtp"} <= set(
        services)
    assert services["upgrade"]["command"] == ["bpbot", "db", "upgrade"]
    assert services["first-model"]["command"] == ["bpbot", "models", "promote", "--first"]
    assert services["first-model"]["depends_on"]["upgrade"]["condition"] == (
        "service_completed_successfully")
    # podman-compose 1.0.3 neither refuses nor waits for conditions: the one-shots retry.
    assert services["upgrade"]["restart"] == services["first-model"]["restart"] == "on-failure"
    # podman-compose 1.0.3 adds its own network to every container: network_mode fails.
    assert not any("network_mode" in service for service in services.values())
    ports = {}
    for name in ("app1", "app2"):
        app = services[name]
        assert app["depends_on"]["first-model"]["condition"] == "service_completed_successfully"
        assert "ports" not in app and app["restart"] == "unless-stopped"
        ports[name] = app["command"][app["command"].index("--port") + 1]
    nginx = (DEPLOY / "nginx" / "bpbot.conf").read_text()
    shipped = re.findall(r"server 127\.0\.0\.1:(\d+) ", nginx)
    assert set(ports.values()) == set(shipped) == {"5005", "5006"}
    # nginx runs the shipped file with each upstream pointed at its app service.
    proxy = services["proxy"]
    assert "./nginx/bpbot.conf:/etc/bpbot/nginx/bpbot.conf:ro" in proxy["volumes"]
    script = proxy["command"][-1]
    for name, port in ports.items():
        assert f"s/server 127\\.0\\.0\\.1:{port} /server {name}:{port} /" in script
    assert "/etc/bpbot/nginx/bpbot.conf > /etc/nginx/conf.d/default.conf" in script


def test_the_image_is_multi_stage_non_root_and_built_by_the_setup_script():
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "&& PIP_CACHE_DIR=/var/cache/bpbot-build/pip scripts/setup.sh postgres" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    # Any base: a public one by default, a local one made from Debian's archive by the tests.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    # The app user owns the models folder (compose's volume copies it): `bpbot train` writes.
    assert f"COPY --from=build --chown={users[-1]}:{users[-1]} /opt/models " \
        "/opt/bpbot/models" in text


def test_the_setup_script_installs_the_container_tools_for_the_tests():
    text = (ROOT / "scripts" / "setup.sh").read_text()
    dev = re.search(r"\*,dev,\*\) packages\+=\(([^)]*)\)", text)
    assert dev and {"podman", "podman-compose", "mmdebstrap", "runc"} <= set(
        dev.group(1).split())


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
