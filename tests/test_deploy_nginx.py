"""deploy/nginx/bpbot.conf as shipped, on loopback: nginx (Debian) with a throwaway TLS
certificate in front of two `bpbot serve` processes on PostgreSQL.

Only what differs on a test machine is rewritten: the listen ports, the upstream ports and
the certificate paths. Everything else (TLS, the redirect, forwarded addresses, WebSocket
upgrade, the /metrics allow list, fail-over) runs as the city would run it.
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import time

import httpx
import pytest
from websockets.sync.client import connect

from tests.browser import free_port, wait_ready
from tests.conftest import ROOT, _empty_database
from tests.test_server_proxy import start_server

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
    include {root}/bpbot.conf;
}}
"""


def shipped_config(root, *, http, https, upstreams, cert, key) -> str:
    text = (ROOT / "deploy" / "nginx" / "bpbot.conf").read_text()
    replaced = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
        "server 127.0.0.1:5005 ": f"server 127.0.0.1:{upstreams[0]} ",
        "server 127.0.0.1:5006 ": f"server 127.0.0.1:{upstreams[1]} ",
        "/etc/bpbot/tls/fullchain.pem": str(cert),
        "/etc/bpbot/tls/privkey.pem": str(key),
    }
    for old, new in replaced.items():
        assert text.count(old) == 1, f"{old!r} is no longer in deploy/nginx/bpbot.conf"
        text = text.replace(old, new)
    return text


@pytest.fixture()
def deployed(postgres_url, trained_model_dir, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is missing: scripts/setup.sh installs the Debian package "
                    "nginx-light for the tests")
    db = _empty_database(postgres_url)
    env = {**os.environ, "BPBOT_DATABASE_URL": postgres_url, "BPBOT_ENVIRONMENT": "test",
           "BPBOT_MODELS_PATH": str(trained_model_dir), "BPBOT_OUTBOX_INTERVAL_S": "0",
           "BPBOT_TRUSTED_PROXIES": '["127.0.0.1"]', "BPBOT_RATE_LIMIT_PER_MINUTE": "6",
           "HF_HUB_OFFLINE": "1"}
    ports = [free_port(), free_port()]
    servers = [start_server(p, env) for p in ports]
    for port, server in zip(ports, servers, strict=True):
        wait_ready(f"http://127.0.0.1:{port}", server)
    root = tmp_path / "nginx"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o777)
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=bot.example.fi", "-addext",
                    "subjectAltName=DNS:bot.example.fi,IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    http, https = free_port(), free_port()
    (root / "bpbot.conf").write_text(shipped_config(root, http=http, https=https,
                                                    upstreams=ports, cert=cert, key=key))
    (root / "nginx.conf").write_text(MAIN_CONF.format(root=root))
    proxy = subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf"),
                              "-g", "daemon off;"], stderr=subprocess.PIPE)
    tls = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{https}"
    deadline = time.monotonic() + 20
    while proxy.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", verify=tls, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proxy.kill()
        pytest.fail(f"nginx did not start: {proxy.stderr.read().decode() if proxy.stderr else ''}")
    yield {"url": url, "http": f"http://127.0.0.1:{http}", "tls": tls, "servers": servers,
           "proxy": proxy}
    proxy.terminate()
    proxy.wait(timeout=10)
    for server in servers:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
    db.dispose()


def client(deployed, address="127.0.0.1"):
    return httpx.Client(base_url=deployed["url"], timeout=60, verify=deployed["tls"],
                        transport=httpx.HTTPTransport(local_address=address,
                                                      verify=deployed["tls"]))


def test_tls_redirect_chat_websocket_and_metrics_through_the_shipped_config(deployed):
    # Plain HTTP only redirects to HTTPS.
    plain = httpx.get(deployed["http"] + "/webhooks/rest/webhook", timeout=10)
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    with client(deployed) as web:
        ready = web.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model"]
        assert ready.headers["strict-transport-security"] == "max-age=31536000"
        reply = web.post("/webhooks/rest/webhook", json={
            "sender": "nginx-rest", "message": "Haluaisin hakea terassilupaa kahvilalle"})
        assert reply.status_code == 200 and reply.json()[0]["text"]
        assert web.get("/metrics").status_code == 200  # from this host
        assert web.get("/").status_code == 200  # the widget's demo page
    with client(deployed, "127.0.0.2") as outside:
        assert outside.get("/metrics").status_code == 403
    # The widget's page and the socket on one https origin (a Rasa-style WebSocket client).
    ws_url = deployed["url"].replace("https", "wss") + "/webhooks/websocket"
    with connect(ws_url, ssl=deployed["tls"], origin=deployed["url"]) as socket:
        socket.send(json.dumps({"sender": "nginx-ws", "message": "Hej, jag behöver bygglov"}))
        assert json.loads(socket.recv(timeout=30)) == {"typing": True}
        assert json.loads(socket.recv(timeout=60))["messages"]


def test_the_app_limits_each_real_client_address_that_nginx_forwards(deployed):
    """BPBOT_RATE_LIMIT_PER_MINUTE=6: per address as nginx saw it, across both processes."""
    def codes(address, tag):
        with client(deployed, address) as web:
            return [web.post("/webhooks/rest/webhook", json={
                "sender": f"nginx-{tag}-{i}", "message": "hei"}).status_code for i in range(8)]

    first = codes("127.0.0.2", "a")
    assert first.count(200) == 6 and first.count(429) == 2, first
    second = codes("127.0.0.3", "b")  # another customer is not held back by the first
    assert second.count(200) == 6, second


def test_a_stopped_process_is_passed_over(deployed):
    deployed["servers"][0].terminate()
    deployed["servers"][0].wait(timeout=30)
    with client(deployed, "127.0.0.4") as web:
        statuses = [web.post("/webhooks/rest/webhook", json={
            "sender": f"nginx-failover-{i}", "message": "hei"}).status_code for i in range(5)]
    assert statuses == [200] * 5, statuses


def test_nginx_accepts_the_shipped_config_as_it_is(tmp_path):
    """`nginx -t` on the file as shipped (certificate paths aside): no syntax error."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    text = (ROOT / "deploy" / "nginx" / "bpbot.conf").read_text()
    assert re.search(r"upstream bpbot \{[^}]*5005[^}]*5006", text)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=x", "-keyout", str(tmp_path / "k.pem"), "-out",
                    str(tmp_path / "c.pem")], check=True, capture_output=True)
    (tmp_path / "bpbot.conf").write_text(
        text.replace("/etc/bpbot/tls/fullchain.pem", str(tmp_path / "c.pem"))
        .replace("/etc/bpbot/tls/privkey.pem", str(tmp_path / "k.pem")))
    (tmp_path / "nginx.conf").write_text(MAIN_CONF.format(root=tmp_path))
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c",
                              str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
