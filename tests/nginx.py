"""nginx (Debian's nginx-light) and two `bpbot serve` processes on loopback, for tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import free_port, wait_ready
from tests.conftest import ROOT

#: The main configuration around an http block `{http}` (runs unprivileged in `{root}`).
MAIN_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
{http}
}}
"""


def nginx_binary() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is missing: scripts/setup.sh installs the Debian package "
                    "nginx-light for the tests")
    return nginx


def nginx_root(tmp_path: Path) -> Path:
    """A folder nginx's worker (user nobody) can use."""
    root = tmp_path / "nginx"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o777)
    return root


def write_main_conf(root: Path, http: str) -> Path:
    path = root / "nginx.conf"
    path.write_text(MAIN_CONF.format(root=root, http=http))
    return path


def start_nginx(root: Path, http: str) -> subprocess.Popen[bytes]:
    conf = write_main_conf(root, http)
    return subprocess.Popen([nginx_binary(), "-p", str(root), "-c", str(conf),
                             "-g", "daemon off;"], stderr=subprocess.PIPE)


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    bpbot = os.path.join(os.path.dirname(sys.executable), "bpbot")
    return subprocess.Popen([bpbot, "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def server_env(database_url: str, models: Path, **settings: str) -> dict[str, str]:
    """The environment of a test server process; `settings` as BPBOT_ names."""
    return {**os.environ, "BPBOT_DATABASE_URL": database_url, "BPBOT_ENVIRONMENT": "test",
            "BPBOT_MODELS_PATH": str(models), "BPBOT_OUTBOX_INTERVAL_S": "0",
            "HF_HUB_OFFLINE": "1", **settings}


def start_two_servers(env: dict[str, str]) -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    """Two `bpbot serve` processes, ready."""
    ports = [free_port(), free_port()]
    servers = [start_server(p, env) for p in ports]
    for port, server in zip(ports, servers, strict=True):
        wait_ready(f"http://127.0.0.1:{port}", server)
    return ports, servers


def stop(proxy: subprocess.Popen[bytes], servers: list[subprocess.Popen[bytes]]) -> None:
    proxy.terminate()
    proxy.wait(timeout=10)
    for server in servers:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def throwaway_certificate(folder: Path, cert: str = "cert.pem", key: str = "key.pem"
                          ) -> tuple[Path, Path]:
    """A self-signed certificate for bot.example.fi and 127.0.0.1 (one day), and its key."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / cert, folder / key
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=bot.example.fi", "-addext",
                    "subjectAltName=DNS:bot.example.fi,IP:127.0.0.1", "-keyout", str(key_path),
                    "-out", str(cert_path)], check=True, capture_output=True, timeout=60)
    return cert_path, key_path
