"""Fuzzing the chat webhook: whatever arrives, never a 5xx and never a stack trace."""

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.server.app import create_app
from tests.chat import keeping_tokens


@pytest.fixture(scope="module")
def client(agent, project_settings):
    app_settings = project_settings.model_copy(update={"outbox_interval_s": 0,
                                                       "rate_limit_per_minute": 100000})
    with keeping_tokens(TestClient(create_app(app_settings, agent=agent))) as test_client:
        yield test_client


senders = st.one_of(st.from_regex(r"\A[A-Za-z0-9_.:-]{1,40}\Z"), st.text(max_size=200))
texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=50),
    st.sampled_from(["/affirm", "/deny", '/inform{"reply_language": "sv"}', "/inform{bad",
                     '/correct{"field": "nope"}', "/restart", "", " " * 20]),
)
metadata = st.one_of(st.none(), st.dictionaries(st.text(max_size=10),
                                                st.one_of(st.text(max_size=10),
                                                          st.integers()), max_size=3))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sender=senders, text=texts, meta=metadata)
def test_server_fuzz_rest_webhook_never_fails(client, sender, text, meta):
    body = {"sender": sender, "message": text}
    if meta is not None:
        body["metadata"] = meta
    response = client.post("/webhooks/rest/webhook", json=body)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_server_fuzz_raw_bodies(client, raw):
    response = client.post("/webhooks/rest/webhook", content=raw,
                           headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
