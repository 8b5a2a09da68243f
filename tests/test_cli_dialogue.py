import asyncio

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.shell import chat

runner = CliRunner()


def test_cli_shell_chat_with_buttons_and_nlu(agent):
    inputs = iter(["/nlu", "Miten haen terassilupaa kahvilalle?", "2", "/quit"])
    lines: list[str] = []
    asyncio.run(chat(agent, read=lambda _prompt: next(inputs), write=lines.append))
    text = "\n".join(lines)
    assert '"name": "terrace_permit"' in text
    assert "[1] Kyllä, välitä" in text and "[2] Ei kiitos" in text
    assert "Selvä, en välitä kyselyä eteenpäin" in text  # button 2 sent /deny


def test_cli_shell_ends_at_end_of_input(agent):
    def read(_prompt):
        raise EOFError

    sender = asyncio.run(chat(agent, read=read, write=lambda _line: None))
    assert sender.startswith("shell-")


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("BPBOT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    monkeypatch.setenv("BPBOT_SMTP_PORT", "1")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_erase_purge_outbox(cli_env):
    from bot.store.db import Database
    from bot.store.enquiries import NewEnquiry, Notification, create_enquiry

    db = Database(f"sqlite:///{cli_env}/cli.sqlite3")
    new = NewEnquiry("s", "fi", "fi", "zoning", 0.8, "land-use", "zoning@example.fi", "Maija",
                     None, None, "maija@example.fi", None, "v1", "kaava")
    _, reference = create_enquiry(db, new, [Notification("email", "zoning@example.fi", "s",
                                                          "b")])
    result = runner.invoke(app, ["outbox", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 0; not sent: 1." in result.output and "attempts=1" in result.output
    result = runner.invoke(app, ["purge", "--days", "30"])
    assert result.exit_code == 0 and "Purged 0 enquiries" in result.output
    result = runner.invoke(app, ["erase", "--reference", reference])
    assert result.exit_code == 0 and "Erased 1 enquiries" in result.output
    result = runner.invoke(app, ["erase"])
    assert result.exit_code == 2 and "give --email" in result.output


def test_cli_test_stories_writes_the_report(trained_model_dir, root, tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(root)
    out = tmp_path / "stories"
    result = runner.invoke(app, ["test", "--model", str(trained_model_dir), "--stories",
                                 str(root / "tests/stories/stories_en.yml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "story_report.json").read_text())
    assert report["failed"] == 0 and report["passed"] == len(report["stories"]) > 10
    entry = report["stories"][0]
    assert set(entry) >= {"story", "language", "passed"} and entry["language"] == "en"
