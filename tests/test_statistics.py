"""The situational picture: its figures against the database, its access, its CSV."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bot.store import statistics
from bot.store.enquiries import NewEnquiry, create_enquiry
from bot.store.models import Enquiry, RoutingCorrection
from tests.conftest import own_app, staff_sign_in

PASSWORD = "a long coordinator password"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday


def enquiry(db, unit, language, intent, created, history=(), status="new"):
    new = NewEnquiry(f"st-{unit}-{created.isoformat()}", language, language, intent, 0.9,
                     unit, f"{unit}@example.fi", "Maija", "Oy Ab", None, "maija@example.fi",
                     None, "2026-11", "teksti")
    _, reference = create_enquiry(db, new)
    with db.session() as session:
        session.execute(update(Enquiry).where(Enquiry.reference == reference).values(
            created_at=created, status=status, history=list(history)))
    return reference


@pytest.fixture()
def app(project_settings, router, tmp_path):
    application, agent = own_app(project_settings, router, tmp_path, [
        ("picture.coordinator", PASSWORD, [], "coordinator"),
        ("streets.staff", PASSWORD, ["streets"], "staff")])
    db = agent.store.db
    monday = NOW - timedelta(days=2, hours=3)  # Monday 09:00
    answered = {"at": (monday + timedelta(days=1)).isoformat(), "event": "status",
                "old": "new", "new": "answered", "by": "x"}
    enquiry(db, "streets", "fi", "terrace_permit", monday, [answered], "answered")
    enquiry(db, "streets", "sv", "terrace_permit", NOW - timedelta(hours=5))
    enquiry(db, "employment", "en", "recruitment", NOW - timedelta(days=10), status="in_progress")
    enquiry(db, "employment", "fi", "recruitment", NOW - timedelta(days=100))  # too old
    with db.session() as session:
        session.add(RoutingCorrection(created_at=NOW - timedelta(days=1), language="fi",
                                      text="x", predicted_intent="terrace_permit",
                                      from_unit="streets", to_unit="building-control",
                                      reason="julkisivu", staff="x"))
    return application, db


def test_statistics_match_the_database(app):
    _, db = app
    tables = {t.name: t for t in statistics.compute(db, {"streets": 3, "employment": 5}, NOW)}
    assert tables["per_unit"].rows == [["streets", 2], ["employment", 1]]
    assert tables["per_language"].rows == [["fi", 1], ["sv", 1], ["en", 1]]
    assert tables["per_topic"].rows == [["terrace_permit", 2], ["recruitment", 1]]
    assert tables["first_response"].rows == [["employment", None, None, 5, 0, 1],
                                             ["streets", 1.0, 100.0, 3, 1, 1]]
    # Open: 5 hours (<1), 10 days (>7) and the 100-day-old one (>7, whatever its week).
    assert tables["open_by_age"].rows == [["<1", 1], ["1-3", 0], ["3-7", 0], [">7", 2]]
    assert tables["reroutes"].rows == [["streets", "building-control", 1]]
    assert sum(n for _, n in tables["per_week"].rows) == 3
    by_unit = [(unit, n) for _, unit, n in tables["per_week_unit"].rows]
    assert sum(n for _, n in by_unit) == 3 and {u for u, _ in by_unit} == {"streets",
                                                                          "employment"}
    assert sorted(r[1] for r in tables["per_week_language"].rows) == ["en", "fi", "sv"]


def test_working_days_skip_weekends_and_public_holidays():
    friday = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert statistics.working_days(friday, friday + timedelta(days=3)) == 1.0  # to Monday
    # Independence Day (Sunday 6 Dec 2026) is on a weekend; Christmas Eve is a holiday.
    eve = datetime(2026, 12, 23, 12, 0, tzinfo=UTC)
    assert statistics.working_days(eve, eve + timedelta(days=3)) == 0.5


def sign_in(client, username):
    assert staff_sign_in(client, username, PASSWORD).status_code == 303


def test_statistics_page_and_csv_for_coordinators_only(app):
    application, _ = app
    with TestClient(application) as client:
        sign_in(client, "streets.staff")
        assert client.get("/staff/statistics").status_code == 404
        sign_in(client, "picture.coordinator")
        page = client.get("/staff/statistics?lang=sv").text
        assert "Ärenden per enhet" in page and "<svg" in page and "<table>" in page
        assert "Kaupungin infrastruktuuri" in page or "Stadens infrastruktur" in page
        exported = client.get("/staff/statistics.csv?table=per_language")
        assert exported.status_code == 200
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == ["Språk", "Ärenden"]
        assert sorted(rows[1:]) == sorted([["fi", "1"], ["sv", "1"], ["en", "1"]])
        assert client.get("/staff/statistics.csv?table=nope").status_code == 404


def test_answered_enquiry_asks_the_customer_to_rate_and_ratings_appear_per_unit(app):
    from sqlalchemy import select

    from bot.store.models import EnquiryRating, OutboxMessage

    application, db = app
    reference = enquiry(db, "streets", "sv", "terrace_permit", NOW)
    with TestClient(application) as client:
        sign_in(client, "streets.staff")
        page = client.get(f"/staff/enquiries/{reference}").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        client.post(f"/staff/enquiries/{reference}/status",
                    data={"status": "answered", "csrf": token})
        client.post(f"/staff/enquiries/{reference}/status",
                    data={"status": "answered", "csrf": token})  # asked once only
        with db.session() as session:
            mails = session.scalars(select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"{reference}:rating")).all()
        assert len(mails) == 1 and mails[0].recipient == "maija@example.fi"
        assert "Hur lyckades vi?" in mails[0].subject  # the customer's language
        link = re.search(r"4: (\S+)", mails[0].body).group(1)
        path = link.split("5005", 1)[1]
        opened = client.get(path)  # shows the choices; records nothing
        assert opened.status_code == 200 and "Du valde betyget 4/5" in opened.text
        forged = client.get(f"/rate/{reference}?score=5&token={'0' * 32}")
        assert forged.status_code == 404
        code = path.split("token=")[1]
        rated = client.post(f"/rate/{reference}", data={
            "score": 5, "token": code, "comment": "Snabbt svar, tack!"})
        assert rated.status_code == 200 and "Ditt betyg 5/5 har sparats" in rated.text
        with db.session() as session:
            row = session.scalars(select(EnquiryRating)).one()
            assert (row.score, row.comment, row.unit) == (5, "Snabbt svar, tack!", "streets")
        tables = {t.name: t for t in statistics.compute(db, {}, NOW)}
        assert tables["ratings"].rows == [["streets", 5.0, 1]]
