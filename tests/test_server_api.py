import pytest
from fastapi.testclient import TestClient

from bot.server.app import create_app
from tests.chat import keeping_tokens


@pytest.fixture(scope="module")
def client(agent, project_settings):
    settings = project_settings.model_copy(update={"outbox_interval_s": 0,
                                                   "rate_limit_per_minute": 1000})
    with keeping_tokens(TestClient(create_app(settings, agent=agent))) as test_client:
        yield test_client


def test_server_rest_webhook_like_rasa(client):
    response = client.post("/webhooks/rest/webhook",
                           json={"sender": "api-1", "message": "Hur ansöker jag om bygglov?"})
    assert response.status_code == 200
    messages = response.json()
    assert all(m["recipient_id"] == "api-1" for m in messages)
    assert "byggnadstillsyn" in " ".join(m["text"] for m in messages).lower()
    assert messages[-1]["buttons"][0]["payload"] == "/affirm"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


def test_server_history_and_delete(client):
    first = client.post("/webhooks/rest/webhook", json={"sender": "api-2", "message": "Hello"})
    token = {"X-Conversation-Token": first.headers["X-Conversation-Token"]}
    later = client.post("/webhooks/rest/webhook", json={"sender": "api-2", "message": "/deny"})
    assert "X-Conversation-Token" not in later.headers  # only the reply that started it
    items = client.get("/conversations/api-2/history", headers=token).json()
    assert items[0] == {"sender": "user", "text": "Hello"}
    assert items[1]["sender"] == "bot" and items[1]["text"].startswith("Hello!")
    assert all(i["text"] != "/deny" for i in items)
    assert client.delete("/conversations/api-2", headers=token).status_code == 204
    assert client.get("/conversations/api-2/history", headers=token).status_code == 404


def test_server_conversation_needs_its_token_not_just_its_id(client):
    """Before, anyone who knew or guessed a sender id could read and delete the history."""
    first = client.post("/webhooks/rest/webhook", json={"sender": "api-guess", "message": "Hei"})
    token = first.headers["X-Conversation-Token"]
    # Posting to a known id does not hand out its token.
    again = client.post("/webhooks/rest/webhook", json={"sender": "api-guess", "message": "moi"})
    assert "X-Conversation-Token" not in again.headers
    for headers in ({}, {"X-Conversation-Token": "0" * 64},
                    {"X-Conversation-Token": token[:-1] + "x"}):
        assert client.get("/conversations/api-guess/history", headers=headers).status_code == 404
        assert client.delete("/conversations/api-guess", headers=headers).status_code == 404
    # "Not yours" and "not found" get the same answer.
    unknown = client.get("/conversations/never-was/history", headers={
        "X-Conversation-Token": token})
    wrong = client.get("/conversations/api-guess/history", headers={
        "X-Conversation-Token": "0" * 64})
    assert unknown.status_code == wrong.status_code == 404
    assert unknown.json() == wrong.json()
    ok = client.get("/conversations/api-guess/history", headers={"X-Conversation-Token": token})
    assert ok.status_code == 200 and ok.json()[0]["text"] == "Hei"
    # A conversation deleted and started again under the same id gets a new token.
    assert client.delete("/conversations/api-guess", headers={
        "X-Conversation-Token": token}).status_code == 204
    restarted = TestClient(client.app).post("/webhooks/rest/webhook", json={
        "sender": "api-guess", "message": "Hej"})  # a new client, which has no old token
    assert restarted.headers["X-Conversation-Token"] != token
    assert client.get("/conversations/api-guess/history", headers={
        "X-Conversation-Token": token}).status_code == 404


def test_server_long_message_is_refused_before_the_nlu_with_the_limit(client, agent):
    limit = agent.settings.max_message_chars
    response = client.post("/webhooks/rest/webhook",
                           json={"sender": "api-long", "message": "tontti " * (limit // 7 + 1)})
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail["max_chars"] == limit and str(limit) in detail["message"]
    parse = client.post("/model/parse", json={"text": "x" * (limit + 1)})
    assert parse.status_code == 413


def test_server_model_parse(client):
    parsed = client.post("/model/parse", json={"text": "Miten haen terassilupaa?"}).json()
    assert parsed["intent"]["name"] == "terrace_permit"
    assert parsed["routing"]["unit"] == "streets" and parsed["language"]["name"] == "fi"


@pytest.mark.parametrize("body,status", [
    ({"sender": "x"}, 422),
    ({"sender": "bad id!", "message": "hi"}, 422),
    ({"sender": "x", "message": "a" * 10001}, 422),
    ({"sender": "x", "message": 5}, 422),
])
def test_server_bad_requests_are_refused_clearly(client, body, status):
    response = client.post("/webhooks/rest/webhook", json=body)
    assert response.status_code == status
    assert "Traceback" not in response.text


def test_server_request_size_limit(client):
    response = client.post("/webhooks/rest/webhook", content=b"x" * 70000,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "at most" in response.json()["detail"]


def test_server_health_ready_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["database"] == "sqlite"
    client.post("/webhooks/rest/webhook", json={"sender": "api-3", "message": "Kiitos"})
    text = client.get("/metrics").text
    assert "bpbot_messages_total" in text and "bpbot_message_seconds_bucket" in text


def test_server_websocket_channel(client):
    with client.websocket_connect("/webhooks/websocket") as socket:
        socket.send_json({"sender": "ws-1", "message": "Hej"})
        assert socket.receive_json() == {"typing": True}
        reply = socket.receive_json()
        assert reply["messages"][0]["text"].startswith("Hej!")
        socket.send_json({"nonsense": 1})
        assert "Expected" in socket.receive_json()["error"]


def test_server_websocket_refuses_foreign_origins(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            "/webhooks/websocket", headers={"origin": "https://evil.example"}) as socket:
        socket.receive_json()


def _limited_app(project_settings, router, tmp_path, **update):
    """An app on its own database (the limits count there), with `update` in its settings."""
    from bot.agent import Agent

    settings = project_settings.model_copy(update={
        "outbox_interval_s": 0, "database_url": f"sqlite:///{tmp_path}/limits.sqlite3",
        **update})
    return create_app(settings, agent=Agent.load(settings, router=router))


def test_server_rate_limit_per_address_and_per_conversation(project_settings, router,
                                                            tmp_path):
    app = _limited_app(project_settings, router, tmp_path, rate_limit_per_minute=4,
                       rate_limit_per_conversation=2)
    with keeping_tokens(TestClient(app)) as limited:
        for _ in range(2):
            assert limited.post("/webhooks/rest/webhook",
                                json={"sender": "rl", "message": "hei"}).status_code == 200
        response = limited.post("/webhooks/rest/webhook", json={"sender": "rl", "message": "x"})
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        # Refused requests count too: the address has one message left, in another
        # conversation; then it is over as well.
        assert limited.post("/webhooks/rest/webhook",
                            json={"sender": "rl-2", "message": "hei"}).status_code == 200
        assert limited.post("/webhooks/rest/webhook",
                            json={"sender": "rl-3", "message": "hei"}).status_code == 429
        assert limited.post("/model/parse", json={"text": "hei"}).status_code == 429


def test_server_rate_limit_is_shared_by_processes(project_settings, router, postgres_url):
    """Two apps on one PostgreSQL database stand for two processes (before: a limit per
    process). The nginx test checks the same with two real processes."""
    from bot.agent import Agent
    from tests.conftest import _empty_database

    _empty_database(postgres_url).dispose()
    settings = project_settings.model_copy(update={
        "outbox_interval_s": 0, "database_url": postgres_url, "rate_limit_per_minute": 4})
    one = create_app(settings, agent=Agent.load(settings, router=router))
    other = create_app(settings, agent=Agent.load(settings, router=router))
    with keeping_tokens(TestClient(one)) as first, keeping_tokens(TestClient(other)) as second:
        codes = [client.post("/webhooks/rest/webhook", json={
            "sender": f"shared-{i}", "message": "hei"}).status_code
            for i, client in enumerate([first, second] * 3)]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_server_forwarded_for_counts_only_from_trusted_proxies(project_settings, router,
                                                               tmp_path):
    """Before: X-Forwarded-For from loopback was believed, so rotating it escaped the limit;
    behind a proxy on another host every user shared one limit."""
    app = _limited_app(project_settings, router, tmp_path, rate_limit_per_minute=2)
    with keeping_tokens(TestClient(app)) as client:
        codes = [client.post("/webhooks/rest/webhook", json={
            "sender": f"spoof-{i}", "message": "hei"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]  # a spoofed header changes nothing


@pytest.mark.parametrize("peer,forwarded,expected", [
    ("127.0.0.1", "203.0.113.9", "127.0.0.1"),  # loopback is no proxy unless configured
    ("10.0.0.5", "198.51.100.7", "198.51.100.7"),  # the trusted proxy's client
    ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own header: no
    ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two trusted hops
    ("10.0.0.5", "", "10.0.0.5"),
    ("192.0.2.1", "198.51.100.7", "192.0.2.1"),  # not a trusted proxy
])
def test_server_client_address_behind_trusted_proxies(project_settings, peer, forwarded,
                                                      expected):
    from types import SimpleNamespace

    from starlette.requests import Request

    from bot.server.security import client_key

    settings = project_settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    request = Request({"type": "http", "client": (peer, 5000), "headers": headers,
                       "app": app})
    assert client_key(request) == expected


def test_server_trusted_proxies_setting_is_checked():
    from pydantic import ValidationError

    from bot.settings import Settings

    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(trusted_proxies=["proxy.example.fi"])



def test_server_cors_only_for_configured_sites(client):
    allowed = client.options("/webhooks/rest/webhook", headers={
        "Origin": "http://localhost:5005", "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:5005"
    foreign = client.options("/webhooks/rest/webhook", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in foreign.headers


def test_server_request_size_limit_without_content_length(client):
    """A chunked body declares no length: it is counted as it arrives."""

    def chunks():
        for _ in range(10):
            yield b"x" * 10000

    response = client.post("/webhooks/rest/webhook", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "at most" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_server_lone_surrogate_is_refused_clearly_not_a_500(client):
    """Before: "\\ud800" in the JSON gave a 500 with a traceback."""
    for path, body in (("/webhooks/rest/webhook", b'{"sender": "sur-1", "message": "a\\ud800"}'),
                       ("/model/parse", b'{"text": "\\udfff b"}'),
                       ("/webhooks/rest/webhook",
                        b'{"sender": "sur-2", "message": "hei", "metadata": {"x": "\\ud800"}}')):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert ("surrogate" in response.text or "unicode" in response.text)
        assert "Traceback" not in response.text


def test_server_metadata_is_bounded(client):
    """Before: 10 frames of 10 MB metadata grew the database by 113 MB."""
    response = client.post("/webhooks/rest/webhook", json={
        "sender": "meta-1", "message": "hei", "metadata": {"junk": "x" * 5000}})
    assert response.status_code == 422 and "at most 2048" in response.text
    with client.websocket_connect("/webhooks/websocket") as socket:
        socket.send_json({"sender": "meta-2", "message": "hei",
                          "metadata": {"junk": "x" * 5000}})
        assert "2 KB" in socket.receive_json()["error"]
        socket.send_json({"sender": "meta-2", "message": "hei", "metadata": {"language": "fi"}})
        assert socket.receive_json() == {"typing": True}
        assert socket.receive_json()["messages"]


def test_server_websocket_malformed_json_and_huge_frames_close_with_a_reason(client):
    """Before: malformed JSON closed the socket on an unhandled error."""
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/webhooks/websocket") as socket:
        socket.send_text('{"sender": "x", "message": ')
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 1007 and "Expected JSON" in closed.value.reason
    with client.websocket_connect("/webhooks/websocket") as socket:
        socket.send_text("x" * 70000)
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 1009 and "too large" in closed.value.reason


def test_server_production_surface_is_closed(agent, project_settings):
    """Before: /docs, /openapi.json, /metrics and /model/parse were public in production."""
    secrets = {"webhook_secret": "w" * 32, "session_secret": "s" * 32,
               "outbox_interval_s": 0}
    production = project_settings.model_copy(update={"environment": "production", **secrets})
    with keeping_tokens(TestClient(create_app(production, agent=agent))) as client:
        for path in ("/docs", "/openapi.json", "/redoc", "/metrics"):
            assert client.get(path).status_code == 404, path
        assert client.post("/model/parse", json={"text": "hei"}).status_code == 404
        assert client.get("/healthz").status_code == 200
    with_token = production.model_copy(update={"admin_token": "t" * 32, "api_docs": True})
    with keeping_tokens(TestClient(create_app(with_token, agent=agent))) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}
                          ).status_code == 401
        bearer = {"Authorization": "Bearer " + "t" * 32}
        assert client.get("/metrics", headers=bearer).status_code == 200
        assert client.post("/model/parse", json={"text": "Miten haen terassilupaa?"},
                           headers=bearer).json()["routing"]["unit"] == "streets"


VICTIM_PATH = ["Haluaisin hakea terassilupaa kahvilalle kesäksi", "kyllä",
               "Maija Meikäläinen", "Kahvila Kanteleen Tmi", "maija@kahvila.example.fi"]
# What an attacker who knows (or guesses) the id would type to see the victim's details.
HIJACK_TEXTS = ["Tarvitsen rakennusluvan hallille", "kyllä", "/affirm", "status?",
                "Mikä on asiani tila?"]


def test_server_conversation_continues_only_with_its_token(client):
    """Before: anyone posting under a known REST id continued it and saw its details."""
    for text in VICTIM_PATH:  # the victim's client keeps its token (the jar)
        assert client.post("/webhooks/rest/webhook", json={
            "sender": "hijack-1", "message": text}).status_code == 200
    before = len(client.get("/conversations/hijack-1/history", headers={
        "X-Conversation-Token": client_token(client, "hijack-1")}).json())
    attacker = TestClient(client.app)  # another client: no token, or a made-up one
    unknown = attacker.get("/conversations/never-seen/history", headers={
        "X-Conversation-Token": "0" * 64})
    for headers in ({}, {"X-Conversation-Token": "0" * 64}):
        for text in HIJACK_TEXTS:
            response = attacker.post("/webhooks/rest/webhook", headers=headers,
                                     json={"sender": "hijack-1", "message": text})
            assert response.status_code == 404
            assert response.json() == unknown.json()  # "not yours" reads as "not found"
            assert "maija" not in response.text.lower()
            assert "X-Conversation-Token" not in response.headers
    after = client.get("/conversations/hijack-1/history", headers={
        "X-Conversation-Token": client_token(client, "hijack-1")}).json()
    assert len(after) == before  # nothing the attacker sent reached the conversation
    summary = client.post("/webhooks/rest/webhook", json={"sender": "hijack-1",
                                                          "message": "/affirm"})
    assert "BP-" in " ".join(m.get("text") or "" for m in summary.json())


def client_token(client, sender):
    """The token the client's jar keeps for `sender`."""
    hooks = client.event_hooks["request"]
    return next(h.__self__.tokens[sender] for h in hooks if hasattr(h, "__self__"))


def test_server_websocket_continues_only_with_its_token(client):
    """The widget's socket: a frame for someone else's id is refused like an unknown one."""
    with client.websocket_connect("/webhooks/websocket") as socket:
        socket.send_json({"sender": "ws-owner", "message": "Hej, jag behöver bygglov"})
        assert socket.receive_json() == {"typing": True}
        started = socket.receive_json()
        token = started["token"]
        socket.send_json({"sender": "ws-owner", "message": "ja"})  # same socket: remembered
        assert socket.receive_json() == {"typing": True}
        assert "token" not in socket.receive_json()
    with client.websocket_connect("/webhooks/websocket") as other:
        for frame in ({"sender": "ws-owner", "message": "status?"},
                      {"sender": "ws-owner", "message": "status?", "token": "0" * 64}):
            other.send_json(frame)
            assert other.receive_json() == {"typing": True}
            refused = other.receive_json()
            assert refused["status"] == 404 and "token" in refused["error"]
        other.send_json({"sender": "ws-owner", "message": "Vad kostar det?", "token": token})
        assert other.receive_json() == {"typing": True}
        assert other.receive_json()["messages"]  # the owner, from a reloaded page


@pytest.mark.parametrize("attempts", [12])
def test_store_claim_starts_a_conversation_once(db, attempts):
    """Before: of first messages sent at once under one id, each was let in."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.store.trackers import SQLTrackerStore

    store = SQLTrackerStore(db)
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        salts = list(pool.map(lambda _: store.claim("claimed-once"), range(attempts)))
    assert sum(salt is not None for salt in salts) == 1
    assert store.token_secrets("claimed-once")[0] in salts
    # A claim whose first turn stored nothing is given back; one with events is kept.
    store.unclaim("claimed-once")
    assert store.token_secrets("claimed-once") is None
    assert store.claim("claimed-once", "f" * 64) == ""  # a client's token: no salt
    assert store.token_secrets("claimed-once") == (None, "f" * 64)
    store.append("claimed-once", [{"event": "user", "text": "hei"}], 0)
    store.unclaim("claimed-once")
    assert store.token_secrets("claimed-once") is not None
    assert store.claim("claimed-once") is None


def test_server_issues_a_token_when_the_first_message_has_none(client):
    """A Rasa REST client that sends no token gets one in the first reply's header."""
    rasa_client = TestClient(client.app)
    first = rasa_client.post("/webhooks/rest/webhook", json={"sender": "issued-1",
                                                             "message": "Hei"})
    token = first.headers["X-Conversation-Token"]
    assert first.status_code == 200 and len(token) == 64
    assert rasa_client.post("/webhooks/rest/webhook", headers={"X-Conversation-Token": token},
                            json={"sender": "issued-1", "message": "kiitos"}).status_code == 200
    assert rasa_client.post("/webhooks/rest/webhook", json={
        "sender": "issued-1", "message": "kiitos"}).status_code == 404


@pytest.mark.parametrize("bad", ["short", "x" * 129, "a" * 40 + " " + "b" * 10])
def test_server_client_chosen_token_survives_a_lost_reply(client, bad):
    """The widget's way: its own token from the first message, so a retry is let in."""
    import secrets

    widget = TestClient(client.app)
    token = secrets.token_hex(32)
    sender = f"own-token-{len(bad)}"
    first = widget.post("/webhooks/rest/webhook", headers={"X-Conversation-Token": token},
                        json={"sender": sender, "message": "Hej"})
    assert first.status_code == 200 and first.headers["X-Conversation-Token"] == token
    # The reply was lost (a dropped connection): the same message again, with the token.
    again = widget.post("/webhooks/rest/webhook", headers={"X-Conversation-Token": token},
                        json={"sender": sender, "message": "Hej"})
    assert again.status_code == 200 and "X-Conversation-Token" not in again.headers
    malformed = widget.post("/webhooks/rest/webhook", headers={"X-Conversation-Token": bad},
                            json={"sender": "own-token-new", "message": "Hej"})
    assert malformed.status_code == 422 and "32 to 128" in malformed.text
