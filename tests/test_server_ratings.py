"""Rating links: opening one records nothing, the form records once, links expire."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.store import ratings
from bot.store.enquiries import NewEnquiry, create_enquiry
from bot.store.models import EnquiryRating, OutboxMessage
from bot.store.ratings import Outcome
from tests.conftest import own_app

SECRET = "a rating test secret of some length"
# (language, text of the chosen score on the page, of a replay, of an expired link)
LANGUAGES = [
    ("fi", "Valitsit arvion 4/5", "on jo vastaanotettu", "on vanhentunut"),
    ("sv", "Du valde betyget 4/5", "har redan tagits emot", "har gått ut"),
    ("en", "You chose 4/5", "has already been received", "has expired"),
]


def _enquiry(db, language, sender="rate"):
    _, reference = create_enquiry(db, NewEnquiry(
        f"{sender}-{language}", language, language, "terrace_permit", 0.9, "streets",
        "street-permits@example.fi", "Maija", None, None, "maija@example.fi", None, "2026-11",
        "Terassi"))
    return reference


def _scores(db):
    with db.session() as session:
        return [r.score for r in session.scalars(select(EnquiryRating))]


@pytest.fixture()
def app(project_settings, router, tmp_path):
    return own_app(project_settings, router, tmp_path, session_secret=SECRET)


def _link(reference, score=4, days_ago=0.0):
    issued = int(time.time() - days_ago * 86400)
    url = urlsplit(ratings.links("http://testserver", SECRET, reference, issued)[score])
    return url.path + "?" + url.query, parse_qs(url.query)["token"][0]


@pytest.mark.parametrize(("lang", "chosen", "_replay", "_expired"), LANGUAGES)
def test_ratings_opening_the_links_records_nothing(app, lang, chosen, _replay, _expired):
    """Before: a GET recorded the score: a mail scanner opening the links left a 5."""
    application, agent = app
    reference = _enquiry(agent.store.db, lang)
    with TestClient(application) as client:
        for score in ratings.SCORES:  # a scanner opens every link, some twice
            for _ in range(2):
                assert client.get(_link(reference, score)[0]).status_code == 200
        page = client.get(_link(reference, 4)[0])
    assert chosen in page.text and f'<html lang="{lang}">' in page.text
    assert 'method="post"' in page.text and 'value="4" required checked' in page.text
    assert _scores(agent.store.db) == []


@pytest.mark.parametrize(("lang", "_chosen", "replay", "_expired"), LANGUAGES)
def test_ratings_the_form_records_once_and_a_replay_is_refused(app, lang, _chosen, replay,
                                                               _expired):
    """Before: the same link could be posted again and again, each time changing it."""
    application, agent = app
    reference = _enquiry(agent.store.db, lang)
    path, token = _link(reference)
    with TestClient(application) as client:
        first = client.post(f"/rate/{reference}", data={"score": 4, "token": token,
                                                         "comment": "Nopea vastaus"})
        assert first.status_code == 200 and "4/5" in first.text
        again = client.post(f"/rate/{reference}", data={"score": 1, "token": token})
        assert again.status_code == 409 and replay in again.text
        reopened = client.get(path)  # the used link, opened again: says so, no form
        assert reopened.status_code == 200 and replay in reopened.text
        assert 'method="post"' not in reopened.text
    with agent.store.db.session() as session:
        row = session.scalars(select(EnquiryRating)).one()
        assert (row.score, row.comment) == (4, "Nopea vastaus")


@pytest.mark.parametrize(("lang", "_chosen", "_replay", "expired"), LANGUAGES)
def test_ratings_an_expired_link_records_nothing(app, lang, _chosen, _replay, expired):
    """Before: rating links never expired."""
    application, agent = app
    reference = _enquiry(agent.store.db, lang)
    days = agent.settings.rating_link_days
    path, token = _link(reference, days_ago=days + 0.1)
    with TestClient(application) as client:
        opened = client.get(path)
        assert opened.status_code == 410 and expired in opened.text
        posted = client.post(f"/rate/{reference}", data={"score": 5, "token": token})
        assert posted.status_code == 410 and expired in posted.text
        fresh_path, fresh = _link(reference, days_ago=days - 0.1)  # still within its time
        assert client.get(fresh_path).status_code == 200
    assert _scores(agent.store.db) == []


@pytest.mark.parametrize("token", ["0" * 32, "1700000000-" + "0" * 32, "", "x-y", "ä" * 32])
def test_ratings_a_forged_token_is_not_found(app, token):
    application, agent = app
    reference = _enquiry(agent.store.db, "fi")
    with TestClient(application) as client:
        assert client.get(f"/rate/{reference}?score=5&token={token}").status_code == 404
        assert client.post(f"/rate/{reference}", data={
            "score": 5, "token": token}).status_code == 404
        assert client.post("/rate/BP-NOPE", data={
            "score": 5, "token": _link(reference)[1]}).status_code == 404
    assert _scores(agent.store.db) == []


@pytest.mark.parametrize("posts", [8])
def test_ratings_posts_at_once_record_one(db, posts):
    reference = _enquiry(db, "sv")
    code = ratings.token(SECRET, reference, int(time.time()))
    with ThreadPoolExecutor(posts) as pool:
        results = list(pool.map(lambda score: ratings.rate_once(
            db, SECRET, reference, code, score), [1 + i % 5 for i in range(posts)]))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.RECORDED) == 1, outcomes
    assert outcomes.count(Outcome.ALREADY_RATED) == posts - 1, outcomes
    assert len(_scores(db)) == 1 and {r.language for r in results} == {"sv"}


@pytest.mark.parametrize(("queued_days_ago", "outcome"), [(1, Outcome.RECORDED),
                                                          (45, Outcome.EXPIRED)])
def test_ratings_links_sent_before_expiry_count_from_their_email(db, queued_days_ago,
                                                                  outcome):
    """A link of the old form (no issue time) counts from when its e-mail was queued."""
    reference = _enquiry(db, "fi")
    assert ratings.request_rating(db, reference, "http://x", SECRET)
    with db.session() as session:
        session.execute(update(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"{reference}:rating").values(
            created_at=datetime.now(UTC) - timedelta(days=queued_days_ago)))
    legacy = ratings._legacy_token(SECRET, reference)
    assert ratings.rate_once(db, SECRET, reference, legacy, 3).outcome is outcome
    assert ratings.rate_once(db, SECRET, "BP-OTHER", legacy, 3).outcome is Outcome.NOT_FOUND


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_ratings_email_says_how_long_the_links_work(db, lang):
    reference = _enquiry(db, lang)
    assert ratings.request_rating(db, reference, "http://x", SECRET, valid_days=21)
    with db.session() as session:
        body = session.scalars(select(OutboxMessage.body).where(
            OutboxMessage.idempotency_key == f"{reference}:rating")).one()
    assert "21" in body.split("5: ", 1)[1]
    token = parse_qs(urlsplit(body.split("5: ", 1)[1].split()[0]).query)["token"][0]
    assert ratings.open_link(db, SECRET, reference, token).outcome is Outcome.OPEN
