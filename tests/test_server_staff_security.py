"""Staff sign-in under attack: throttling, lockout, sessions that end, hashing off the loop."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from bot.store.staff import MAX_FAILED_LOGINS, add_staff, unlock
from tests.conftest import csrf_of, own_app

PASSWORD = "a long staff password"


@pytest.fixture()
def app(project_settings, router, tmp_path):
    """An app on a database of its own: the sign-in counts of other tests do not apply."""
    return own_app(project_settings, router, tmp_path,
                   [("streets.staff", PASSWORD, ["streets"], "staff")])[0]


def attempt(client, password, username="streets.staff"):
    """A sign-in attempt in the same session (cookies kept)."""
    token = csrf_of(client.get("/staff/login?lang=en").text)
    return client.post("/staff/login", data={"username": username, "password": password,
                                             "csrf": token}, follow_redirects=False)


def test_staff_wrong_passwords_lock_the_account_until_it_runs_out_or_an_admin_clears_it(app):
    """Before: 200 wrong passwords, then the right one was accepted."""
    with TestClient(app) as client:
        for _ in range(MAX_FAILED_LOGINS):
            assert attempt(client, "wrong password!").status_code == 401
        locked = attempt(client, PASSWORD)
        assert locked.status_code == 423 and "locked" in locked.text
        unlock(app.state.agent.store.db, "streets.staff")
        assert attempt(client, PASSWORD).status_code == 303


def test_staff_sign_in_is_throttled_per_address(app):
    with TestClient(app) as client:
        codes = [attempt(client, "wrong", username=f"nobody{i}").status_code
                 for i in range(25)]
    assert codes[:20] == [401] * 20
    assert codes[20:] == [429] * 5


def test_staff_sign_out_ends_the_session_everywhere(app):
    """Before: a session cookie still worked after logout."""
    with TestClient(app) as client, TestClient(app) as elsewhere:
        assert attempt(client, PASSWORD).status_code == 303
        assert attempt(elsewhere, PASSWORD).status_code == 303
        stolen = dict(client.cookies)
        assert client.get("/staff", follow_redirects=False).status_code == 200
        token = csrf_of(client.get("/staff").text)
        client.post("/staff/logout", data={"csrf": token})
        client.cookies.clear()
        client.cookies.update(stolen)  # the old cookie, replayed
        assert client.get("/staff", follow_redirects=False).status_code == 303
        assert elsewhere.get("/staff", follow_redirects=False).status_code == 303


def test_staff_sign_in_hashing_does_not_hold_up_the_event_loop(app):
    """Before: argon2 ran on the event loop; a sign-in flood pushed /healthz to 1.4 s."""
    with TestClient(app) as client:
        client.get("/healthz")
        alone = []
        for _ in range(5):
            started = time.perf_counter()
            client.get("/healthz")
            alone.append(time.perf_counter() - started)
        beside = []

        def health():
            started = time.perf_counter()
            client.get("/healthz")
            beside.append(time.perf_counter() - started)

        with ThreadPoolExecutor(8) as pool:
            logins = [pool.submit(attempt, client, "wrong", f"flood{i}") for i in range(16)]
            time.sleep(0.05)
            for _ in range(10):
                health()
            for f in logins:
                f.result()
    # Sixteen argon2 hashes take over a second of CPU; /healthz must not queue behind them.
    print("healthz alone", alone, "beside sign-ins", beside)
    assert max(beside) < 0.25, (alone, beside)  # on the loop: 0.5 s and more


def test_failed_deliveries_are_shown_to_admins_and_in_metrics(app):
    """Before: an enquiry whose notification gave up was visible nowhere."""
    from sqlalchemy import update

    from bot.store.models import OutboxMessage
    from tests.test_notify import _email_enquiries

    with TestClient(app) as client:
        db = app.state.agent.store.db
        add_staff(db, "admin.staff", PASSWORD, [], is_admin=True,
                  known_units=set(app.state.agent.router.table.units))
        (reference,) = _email_enquiries(db, 1)
        with db.session() as session:
            session.execute(update(OutboxMessage).values(status="failed",
                                                         last_error="SMTP refused"))
        assert 'bpbot_outbox_messages{status="failed"} 1.0' in client.get("/metrics").text
        assert attempt(client, PASSWORD).status_code == 303
        assert "Undelivered" not in client.get("/staff?lang=en").text  # a unit member
        client.cookies.clear()
        assert attempt(client, PASSWORD, "admin.staff").status_code == 303
        page = client.get("/staff?lang=en").text
        assert "Undelivered notifications (1)" in page and reference in page
        assert "bpbot outbox retry" in page


def test_staff_cli_list_disable_reset_password(app, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app as cli
    from bot.settings import get_settings

    with TestClient(app) as client:
        monkeypatch.setenv("BPBOT_DATABASE_URL", app.state.agent.store.db.url)
        get_settings.cache_clear()
        runner = CliRunner()
        try:
            assert attempt(client, PASSWORD).status_code == 303
            listed = runner.invoke(cli, ["staff", "list"])
            assert "streets.staff" in listed.output and "active" in listed.output
            assert runner.invoke(cli, ["staff", "disable", "streets.staff"]).exit_code == 0
            assert client.get("/staff", follow_redirects=False).status_code == 303  # ended
            assert attempt(client, PASSWORD).status_code == 401
            assert "disabled" in runner.invoke(cli, ["staff", "list"]).output
            assert runner.invoke(cli, ["staff", "disable", "streets.staff", "--enable"]
                                 ).exit_code == 0
            reset = runner.invoke(cli, ["staff", "reset-password", "streets.staff",
                                        "--password-stdin"], input="another long password\n")
            assert reset.exit_code == 0, reset.output
            assert attempt(client, PASSWORD).status_code == 401
            assert attempt(client, "another long password").status_code == 303
            unknown = runner.invoke(cli, ["staff", "disable", "nobody"])
            assert unknown.exit_code == 2 and "No staff account 'nobody'" in unknown.output
        finally:
            get_settings.cache_clear()
