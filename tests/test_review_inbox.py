"""The review inbox: unsure messages, a label, `bpbot data pull`, the next candidate."""

import re
import shutil

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.chat import keeping_tokens
from tests.conftest import own_app, staff_sign_in

PASSWORD = "a long maintainer password"


@pytest.fixture()
def app(project_settings, router, tmp_path):
    return own_app(project_settings, router, tmp_path, [
        ("data.maintainer", PASSWORD, [], "maintainer"),
        ("streets.staff", PASSWORD, ["streets"], "staff")])[0]


def sign_in(client, username):
    assert staff_sign_in(client, username, PASSWORD).status_code == 303


def test_label_reaches_the_data_file_and_the_next_candidate(app, tmp_path, monkeypatch,
                                                             project_config, root):
    from bot.nlu.model import train
    from bot.nlu.training_data import load_training_data
    from bot.settings import get_settings

    unsure = "Mun mummon kissa karkas, löytyykö se kaupungin kautta 040 1234567"
    with keeping_tokens(TestClient(app)) as client:
        client.post("/webhooks/rest/webhook", json={"sender": "rv-1", "message": unsure})
        sign_in(client, "streets.staff")
        assert client.get("/staff/review").status_code == 404  # not a maintainer
        sign_in(client, "data.maintainer")
        page = client.get("/staff/review?lang=en").text
        assert "Mun mummon kissa karkas" in page and "[phone]" in page
        assert "040 1234567" not in page  # personal data masked
        masked = re.search(r'name="text" value="([^"]*kissa[^"]*)"', page).group(1)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        bad = client.post("/staff/review/label", data={
            "text": masked, "language": "fi", "label": "no_such_intent", "csrf": token})
        assert bad.status_code == 422
        saved = client.post("/staff/review/label", data={
            "text": masked, "language": "fi", "label": "city_services", "csrf": token},
            follow_redirects=False)
        assert saved.status_code == 303
        assert "kissa" not in client.get("/staff/review?lang=en").text  # labelled: gone
        data = tmp_path / "nlu"
        shutil.copytree(root / "data" / "nlu", data)
        monkeypatch.setenv("BPBOT_DATABASE_URL", app.state.agent.store.db.url)
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            from bot.cli import app as cli

            pulled = runner.invoke(cli, ["data", "pull", "--data", str(data)])
            assert pulled.exit_code == 0 and "1 new example" in pulled.output, pulled.output
            again = runner.invoke(cli, ["data", "pull", "--data", str(data)])
            assert "No new labels" in again.output  # each label once
        finally:
            get_settings.cache_clear()
    written = (data / "fi" / "review.yml").read_text()
    assert "- intent: city_services" in written and "[phone]" in written
    training = load_training_data([data])
    added = [e for e in training.examples if "kissa" in e.text]
    assert [(e.intent, e.language) for e in added] == [("city_services", "fi")]
    candidate = train(project_config, training, with_entities=False)
    assert candidate.manifest["examples"] == len(training.examples)
    assert any(f.endswith("fi/review.yml") for f in candidate.manifest["data_files"])


def test_review_inbox_masks_the_name_given_and_forgets_a_deleted_conversation(app):
    """Before: the name the customer gave stood in the inbox, and deleting the conversation
    ("delete my conversation") left its review label with the customer's text."""
    from sqlalchemy import select

    from bot.store.models import ReviewLabel

    unsure = "Moi, Maija Meikäläinen täällä, mun mummon kissa karkas, löytyykö se kaupungilta"
    with keeping_tokens(TestClient(app)) as client:
        first = client.post("/webhooks/rest/webhook", json={"sender": "rv-name",
                                                            "message": unsure})
        token = first.headers["X-Conversation-Token"]
        for text in ("Haluaisin hakea terassilupaa kahvilalle kesäksi", "/affirm",
                     "Maija Meikäläinen", "Kahvila Kantele Oy 3416721-2"):
            client.post("/webhooks/rest/webhook", json={"sender": "rv-name", "message": text})
        sign_in(client, "data.maintainer")
        page = client.get("/staff/review?lang=en").text
        assert "mun mummon kissa karkas" in page and "[name]" in page
        assert "Meikäläinen" not in page and "Maija" not in page
        masked = re.search(r'name="text" value="([^"]*kissa[^"]*)"', page).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        saved = client.post("/staff/review/label", data={
            "text": masked, "language": "fi", "label": "city_services", "csrf": csrf},
            follow_redirects=False)
        assert saved.status_code == 303
        db = app.state.agent.store.db
        with db.session() as session:
            assert [t for t in session.scalars(select(ReviewLabel.text)) if "kissa" in t] == [
                "Moi, [name] täällä, mun mummon kissa karkas, löytyykö se kaupungilta"]
        deleted = client.delete("/conversations/rv-name",
                                headers={"X-Conversation-Token": token})
        assert deleted.status_code == 204
    with db.session() as session:
        assert not [t for t in session.scalars(select(ReviewLabel.text)) if "kissa" in t]


def test_maintainer_starts_a_candidate_and_sees_its_gate_table(project_settings, router,
                                                               tmp_path, monkeypatch, root,
                                                               trained_model_dir):
    import time

    from bot.registry import record_promotion
    from tests.test_models_registry import GATE_WITHOUT_STORIES, copy_model

    monkeypatch.chdir(root)  # the data the candidate is trained on: data/nlu
    models = tmp_path / "models"
    models.mkdir()
    copy_model(trained_model_dir, models, "20260101-000000-livelive")
    config = tmp_path / "config.yml"
    config.write_text((root / "config.yml").read_text().split("\ngate:")[0]
                      + GATE_WITHOUT_STORIES.format(heldout=root / "tests/data/heldout"))
    application, agent = own_app(project_settings, router, tmp_path,
                                 [("data.maintainer", PASSWORD, [], "maintainer")],
                                 models_path=str(models), config_path=str(config))
    record_promotion(agent.store.db, "20260101-000000-livelive")
    with keeping_tokens(TestClient(application)) as client:
        sign_in(client, "data.maintainer")
        page = client.get("/staff/review?lang=en").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        client.post("/staff/review/candidate", data={"csrf": token})
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            page = client.get("/staff/review?lang=en").text
            if "Done" in page or "Failed" in page:
                break
            assert "Training" in page or "Comparing" in page
            time.sleep(1)
    assert "Done" in page, page[page.find("candidate"):][:2000]
    assert "live " in page and "candidate " in page and "right unit" in page
    assert len(list(models.iterdir())) == 2  # the candidate was saved beside the live one
