import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.server.app import create_app
from bot.store.enquiries import NewEnquiry, create_enquiry
from bot.store.models import OutboxMessage, RoutingCorrection
from bot.store.staff import StaffError, add_staff

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def staff_client(agent, project_settings):
    db = agent.store.db
    units = set(agent.router.table.units)
    for name, unit_ids in [("streets.staff", ["streets"]),
                           ("building.staff", ["building-control"])]:
        try:
            add_staff(db, name, PASSWORD, unit_ids, known_units=units)
        except StaffError:
            pass
    settings = project_settings.model_copy(update={"outbox_interval_s": 0})
    with TestClient(create_app(settings, agent=agent)) as client:
        yield client


def new_enquiry(db, text="Terassilupa kahvilalle <script>alert(1)</script>"):
    new = NewEnquiry("staff-s", "fi", "fi", "terrace_permit", 0.9, "streets",
                     "street-permits@example.fi", "=Maija", "Kahvila Oy", None,
                     "maija@kahvila.example.fi", None, "2026-11", text,
                     [{"from": "customer", "text": text}])
    return create_enquiry(db, new)[1]


def csrf_of(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, username):
    client.cookies.clear()
    token = csrf_of(client.get("/staff/login").text)
    response = client.post("/staff/login", data={"username": username, "password": PASSWORD,
                                                 "csrf": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/staff").text)


def test_staff_sign_in_errors(staff_client):
    staff_client.cookies.clear()
    token = csrf_of(staff_client.get("/staff/login?lang=sv").text)
    bad = staff_client.post("/staff/login", data={"username": "streets.staff",
                                                  "password": "wrong", "csrf": token})
    assert bad.status_code == 401 and "Användarnamnet eller lösenordet är fel" in bad.text
    no_csrf = staff_client.post("/staff/login", data={"username": "streets.staff",
                                                      "password": PASSWORD, "csrf": "x"})
    assert no_csrf.status_code == 403
    assert staff_client.get("/staff", follow_redirects=False).status_code == 303


def test_staff_handle_and_reroute_an_enquiry(staff_client, agent):
    reference = new_enquiry(agent.store.db)
    csrf = sign_in(staff_client, "streets.staff")
    listing = staff_client.get("/staff?status=new&language=fi").text
    assert reference in listing
    detail = staff_client.get(f"/staff/enquiries/{reference}")
    assert detail.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<script>alert(1)" not in detail.text
    page = f"/staff/enquiries/{reference}"
    assert "saved=1" in staff_client.post(page + "/status", data={
        "status": "in_progress", "csrf": csrf}, follow_redirects=False).headers["location"]
    staff_client.post(page + "/note", data={"note": "Soitettu asiakkaalle", "csrf": csrf})
    assert staff_client.post(page + "/status", data={"status": "x", "csrf": "bad"}
                             ).status_code == 403
    moved = staff_client.post(page + "/reroute", data={
        "to_unit": "building-control", "reason": "Kyse on julkisivun muutoksesta",
        "csrf": csrf}, follow_redirects=False)
    assert moved.headers["location"] == "/staff"
    assert staff_client.get(page).status_code == 404  # now another unit's enquiry
    with agent.store.db.session() as session:
        correction = session.scalars(select(RoutingCorrection)).all()[-1]
        assert (correction.from_unit, correction.to_unit) == ("streets", "building-control")
        mails = session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.like(f"{reference}:reroute%"))).all()
        assert [m.recipient for m in mails] == ["building-control@example.fi"]
    sign_in(staff_client, "building.staff")
    detail = staff_client.get(page + "?lang=en").text
    assert "Soitettu asiakkaalle" in detail and "rerouted" in detail
    assert "<dt>Status</dt><dd>New</dd>" in detail  # back to new for the new unit


def test_staff_member_of_another_unit_gets_the_same_answer_as_for_no_enquiry(staff_client,
                                                                              agent):
    """Before: 403 for another unit's enquiry and 404 for none told which references exist."""
    reference = new_enquiry(agent.store.db, "Toinen terassi")
    sign_in(staff_client, "building.staff")
    response = staff_client.get(f"/staff/enquiries/{reference}?lang=en")
    missing = staff_client.get("/staff/enquiries/BP-2026-999999?lang=en")
    assert response.status_code == missing.status_code == 404
    assert response.text == missing.text
    assert "No such enquiry among your units" in response.text
    assert reference not in staff_client.get("/staff").text


def test_staff_csv_export_neutralises_formulas(staff_client, agent):
    reference = new_enquiry(agent.store.db, "CSV-testi")
    sign_in(staff_client, "streets.staff")
    response = staff_client.get("/staff/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    line = next(row for row in response.text.splitlines() if reference in row)
    assert "'=Maija" in line


def test_staff_cli_add_and_corrections_export(staff_client, agent, tmp_path, monkeypatch):
    from bot.cli import app
    from bot.settings import get_settings

    monkeypatch.setenv("BPBOT_DATABASE_URL", str(agent.store.db.url))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["staff", "add", "env.staff", "--unit", "environment",
                                     "--password-stdin"], input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["staff", "add", "x", "--unit", "moon",
                                     "--password-stdin"], input="short\n")
        assert result.exit_code == 2 and "Username 'x'" in result.output
        out = tmp_path / "suggestions.yml"
        result = runner.invoke(app, ["corrections", "export", "--out", str(out)])
        assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    import yaml

    text = out.read_text()
    parsed = yaml.safe_load(text)
    assert parsed["nlu"][0]["intent"] in ("building_permit", "building_sign", "change_of_use")
    assert "maija@" not in text


def test_staff_texts_exist_in_three_languages():
    from bot.server.staff_texts import TEXTS

    assert TEXTS["fi"].keys() == TEXTS["sv"].keys() == TEXTS["en"].keys()


def test_staff_refusals_are_in_the_page_language(staff_client, agent):
    reference = new_enquiry(agent.store.db, "Kielitesti")
    csrf = sign_in(staff_client, "streets.staff")
    staff_client.get("/staff?lang=sv")
    page = f"/staff/enquiries/{reference}"
    moved = staff_client.post(page + "/reroute", data={"to_unit": "environment",
                                                       "reason": "   ", "csrf": csrf})
    assert "Ange orsaken till flytten" in moved.text
    expired = staff_client.post(page + "/note", data={"note": "x", "csrf": "old"})
    assert expired.status_code == 403 and "Formuläret har gått ut" in expired.text
