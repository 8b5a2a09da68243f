import pytest
from fastapi.testclient import TestClient

from bot.server.app import create_app


@pytest.fixture(scope="module")
def client(agent, project_settings):
    settings = project_settings.model_copy(update={"outbox_interval_s": 0,
                                                   "rate_limit_per_minute": 1000})
    with TestClient(create_app(settings, agent=agent)) as test_client:
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
    client.post("/webhooks/rest/webhook", json={"sender": "api-2", "message": "Hello"})
    client.post("/webhooks/rest/webhook", json={"sender": "api-2", "message": "/deny"})
    items = client.get("/conversations/api-2/history").json()
    assert items[0] == {"sender": "user", "text": "Hello"}
    assert items[1]["sender"] == "bot" and items[1]["text"].startswith("Hello!")
    assert all(i["text"] != "/deny" for i in items)
    assert client.delete("/conversations/api-2").status_code == 204
    assert client.get("/conversations/api-2/history").json() == []


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


def test_server_rate_limit(agent, project_settings):
    settings = project_settings.model_copy(update={"outbox_interval_s": 0,
                                                   "rate_limit_per_minute": 2})
    with TestClient(create_app(settings, agent=agent)) as limited:
        for _ in range(2):
            assert limited.post("/webhooks/rest/webhook",
                                json={"sender": "rl", "message": "hei"}).status_code == 200
        response = limited.post("/webhooks/rest/webhook", json={"sender": "rl", "message": "x"})
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


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
