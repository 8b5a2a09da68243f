"""deploy/compose.yaml brought up with Debian's podman-compose and chatted with over TLS.

Only what differs on a test machine is rewritten (see `for_this_machine`): the images (the app
image built from deploy/Dockerfile; stand-ins for postgres, nginx and Mailpit, built from
the Debian base because no registry is reachable), the published ports (free loopback
ports instead of 80 and 443; Mailpit's web view is not published), the settings file and
the certificate folder (made here), and absolute paths for the two bind mounts. The shipped
nginx file, the services, their commands, restart policies, volumes and network run as
the city would run them; the stack is taken down and its containers, volumes and network
removed at the end, also when a step fails.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.browser import free_port
from tests.nginx import throwaway_certificate
from tests.podman import (
    DEPLOY,
    announce,
    app_image,
    bounded,
    podman,
    podman_env,
    remove_labelled,
    require_podman,
    standin_images,
    wait_for,
)
from tests.test_deploy_image import chat, production_env_file

pytestmark = pytest.mark.slow

APP_SERVICES = ("upgrade", "first-model", "app1", "app2")


def for_this_machine(compose: dict[str, Any], images: dict[str, str], *, http: int,
                     https: int, env_file: Path, tls: Path) -> dict[str, Any]:
    """deploy/compose.yaml with this machine's images, ports, settings and certificate."""
    services = compose["services"]
    for name in APP_SERVICES:
        services[name]["image"] = images["app"]
        services[name]["env_file"] = str(env_file)
    del services["upgrade"]["build"]  # built already, with the host's pip settings
    for name, standin in (("postgres", "postgres"), ("proxy", "nginx"), ("smtp", "mailpit")):
        services[name]["image"] = images[standin]
    proxy = services["proxy"]
    assert proxy["ports"] == ["80:80", "443:443"]
    proxy["ports"] = [f"127.0.0.1:{http}:80", f"127.0.0.1:{https}:443"]
    assert proxy["volumes"] == ["./nginx/bpbot.conf:/etc/bpbot/nginx/bpbot.conf:ro",
                                "./tls:/etc/bpbot/tls:ro"]
    proxy["volumes"] = [f"{DEPLOY / 'nginx' / 'bpbot.conf'}:/etc/bpbot/nginx/bpbot.conf:ro",
                        f"{tls}:/etc/bpbot/tls:ro"]
    del services["smtp"]["ports"]
    return compose


def compose_command(project: str, path: Path, *args: str, timeout: float = 600,
                    env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return bounded(["podman-compose", "-p", project, "-f", str(path), *args], timeout, env)


def diagnose(project: str) -> str:
    """Each container's state and the end of its log."""
    label = f"io.podman.compose.project={project}"
    lines = [podman("ps", "-a", "--filter", f"label={label}", "--format",
                    "{{.Names}} {{.Status}}", check=False).stdout]
    for name in lines[0].split("\n"):
        if name.strip():
            result = podman("logs", "--tail", "15", name.split()[0], check=False)
            lines.append(f"--- {name}\n{result.stdout[-1500:]}{result.stderr[-1500:]}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory) -> Iterator[dict[str, Any]]:
    require_podman()
    request.getfixturevalue("trained_model")  # its embeddings, for the image's build
    images = {"app": app_image(), **standin_images()}
    announce(request)
    folder = tmp_path_factory.mktemp("compose")
    cert, _ = throwaway_certificate(folder / "tls", "fullchain.pem", "privkey.pem")
    password = secrets.token_urlsafe(24)
    # The database, SMTP and proxy settings are compose's own (its environment: lines).
    env_file = production_env_file(folder / "bpbot.env", None,
                                   BPBOT_MAIL_FROM="bot@example.fi")
    http, https = free_port(), free_port()
    compose = for_this_machine(yaml.safe_load((DEPLOY / "compose.yaml").read_text()), images,
                               http=http, https=https, env_file=env_file, tls=folder / "tls")
    path = folder / "compose.yaml"
    path.write_text(yaml.safe_dump(compose, sort_keys=False))
    project = f"bpbottest{https}"
    env = {**podman_env(), "POSTGRES_PASSWORD": password}
    try:
        up = compose_command(project, path, "up", "-d", env=env)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        url = f"https://127.0.0.1:{https}"
        tls = ssl.create_default_context(cafile=str(cert))

        def ready() -> bool:
            try:
                return httpx.get(url + "/readyz", verify=tls, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 300, "the stack did not answer /readyz 200 through nginx",
                 lambda: diagnose(project))
        yield {"url": url, "http": f"http://127.0.0.1:{http}", "tls": tls,
               "project": project, "env": env}
    finally:
        compose_command(project, path, "down", "-v", timeout=300, env=env)
        remove_labelled(f"io.podman.compose.project={project}")
    label = f"io.podman.compose.project={project}"
    for kind in ("ps -a", "volume ls", "network ls"):
        assert not podman(*kind.split(), "-q", "--filter", f"label={label}").stdout.strip()


def test_deploy_compose_chats_over_tls_through_nginx(stack):
    plain = httpx.get(stack["http"] + "/webhooks/rest/webhook", timeout=10)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    replies = chat(stack["url"], "compose-1", verify=stack["tls"])
    assert len(replies) == 3
    ready = httpx.get(stack["url"] + "/readyz", verify=stack["tls"], timeout=10)
    assert ready.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(("service", "port"), [("app1", 5005), ("app2", 5006)])
def test_deploy_compose_runs_both_app_processes_as_non_root(stack, service, port):
    """Each process answers /readyz on its own port (nginx passes over one that is down)."""
    name = f"{stack['project']}_{service}_1"
    probe = ("import urllib.request as u, os; print(os.getuid(), "
             f"u.urlopen('http://127.0.0.1:{port}/readyz', timeout=5).status)")
    found: list[str] = []

    def ready() -> bool:
        found[:] = podman("exec", name, "python", "-c", probe, env=stack["env"],
                          check=False).stdout.split()
        return found[-1:] == ["200"]

    wait_for(ready, 120, f"{service} did not answer /readyz 200", lambda: diagnose(
        stack["project"]))
    assert found[0] != "0"


def test_deploy_compose_models_volume_takes_the_app_users_writes(stack):
    """`bpbot train` in the stack writes a new folder in the models volume as the app user."""
    name = f"{stack['project']}_app1_1"
    probe = ("import os, tempfile; d = tempfile.mkdtemp(dir=os.environ['BPBOT_MODELS_PATH']);"
             " os.rmdir(d); print(os.stat(os.environ['BPBOT_MODELS_PATH']).st_uid == "
             "os.getuid())")
    result = podman("exec", name, "python", "-c", probe, env=stack["env"], check=False)
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
