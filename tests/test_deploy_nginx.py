"""deploy/nginx/bpbot.conf as shipped, on loopback: nginx (Debian) with a throwaway TLS
certificate in front of two `bpbot serve` processes on PostgreSQL.

Only what differs on a test machine is rewritten: the listen ports, the upstream ports and
the certificate paths. Everything else (TLS, the redirect, forwarded addresses, WebSocket
upgrade, the /metrics allow list, fail-over) runs as the city would run it.
"""

import json
import re
import ssl
import subprocess
import time

import httpx
import pytest
from websockets.sync.client import connect

from tests.browser import free_port
from tests.chat import keeping_tokens
from tests.conftest import ROOT, _empty_database
from tests.nginx import (
    nginx_binary,
    nginx_root,
    server_env,
    start_nginx,
    start_two_servers,
    stop,
    write_main_conf,
)


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
    db = _empty_database(postgres_url)
    ports, servers = start_two_servers(server_env(
        postgres_url, trained_model_dir, BPBOT_TRUSTED_PROXIES='["127.0.0.1"]',
        BPBOT_RATE_LIMIT_PER_MINUTE="6"))
    root = nginx_root(tmp_path)
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=bot.example.fi", "-addext",
                    "subjectAltName=DNS:bot.example.fi,IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    http, https = free_port(), free_port()
    (root / "bpbot.conf").write_text(shipped_config(root, http=http, https=https,
                                                    upstreams=ports, cert=cert, key=key))
    proxy = start_nginx(root, f"include {root}/bpbot.conf;")
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
    stop(proxy, servers)
    db.dispose()


def client(deployed, address="127.0.0.1"):
    return keeping_tokens(httpx.Client(base_url=deployed["url"], timeout=60, verify=deployed["tls"],
                        transport=httpx.HTTPTransport(local_address=address,
                                                      verify=deployed["tls"])))


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
    text = (ROOT / "deploy" / "nginx" / "bpbot.conf").read_text()
    assert re.search(r"upstream bpbot \{[^}]*5005[^}]*5006", text)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=x", "-keyout", str(tmp_path / "k.pem"), "-out",
                    str(tmp_path / "c.pem")], check=True, capture_output=True)
    (tmp_path / "bpbot.conf").write_text(
        text.replace("/etc/bpbot/tls/fullchain.pem", str(tmp_path / "c.pem"))
        .replace("/etc/bpbot/tls/privkey.pem", str(tmp_path / "k.pem")))
    conf = write_main_conf(tmp_path, f"include {tmp_path}/bpbot.conf;")
    checked = subprocess.run([nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
