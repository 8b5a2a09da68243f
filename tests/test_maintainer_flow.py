"""A maintainer's whole flow: scaffold an intent, fill it, train, promote through the gate,
and the chat answers the new intent."""

import asyncio
import itertools
import shutil

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import ROOT
from tests.test_models_registry import copy_model

EXAMPLES = {
    "fi": (["Tarvitsemme luvan", "Miten haetaan lupa", "Haluaisimme hakea lupaa",
            "Voiko saada luvan", "Kuka myöntää luvan"],
           ["sähköpotkulautojen pysäköintiin", "vuokrapotkulaudoille kadulla",
            "potkulautojen pysäköintialueille keskustassa", "sähköpotkulautojen parkkipaikoille",
            "potkulautojen säilytykseen jalkakäytävällä"]),
    "sv": (["Vi behöver tillstånd", "Hur söker man tillstånd", "Vi vill ansöka om tillstånd",
            "Kan man få tillstånd", "Vem beviljar tillstånd"],
           ["för parkering av elsparkcyklar", "för hyrsparkcyklar på gatan",
            "för parkeringsområden för elsparkcyklar i centrum",
            "för parkeringsplatser för elsparkcyklar",
            "för förvaring av sparkcyklar på trottoaren"]),
    "en": (["We need a permit", "How do we apply for a permit", "Who grants a permit"],
           ["for e-scooter parking", "for rental scooters on the street",
            "for scooter parking areas in the centre", "for e-scooter parking spots",
            "to keep scooters on the pavement"]),
}


@pytest.fixture()
def project(tmp_path, monkeypatch, trained_model_dir):
    from bot.settings import get_settings

    copy = tmp_path / "project"
    for name in ("data", "routing"):
        shutil.copytree(ROOT / name, copy / name)
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "tests" / "stories", copy / "tests" / "stories")
    shutil.copytree(ROOT / "tests" / "data" / "heldout", copy / "tests" / "data" / "heldout")
    (copy / "models").mkdir()
    copy_model(trained_model_dir, copy / "models", "20260101-000000-livelive")
    for key, value in {"DATABASE_URL": f"sqlite:///{copy}/bot.sqlite3",
                       "MODELS_PATH": str(copy / "models"), "ROUTING_PATH": str(copy / "routing"),
                       "DOMAIN_PATH": str(copy / "domain.yml"),
                       "RULES_PATH": str(copy / "data" / "rules.yml"),
                       "BUTTONS_PATH": str(copy / "data" / "buttons.yml"),
                       "ENVIRONMENT": "test", "SMTP_PORT": "1"}.items():
        monkeypatch.setenv(f"BPBOT_{key}", value)
    monkeypatch.chdir(copy)
    get_settings.cache_clear()
    yield copy
    get_settings.cache_clear()


def test_scaffold_fill_train_promote_and_the_chat_answers_it(project):
    from bot.agent import Agent
    from bot.registry import live_model_id, record_promotion
    from bot.settings import get_settings
    from bot.store.db import Database
    from bot.training import train_project
    from bot.validation import validate_project

    runner = CliRunner()
    settings = get_settings()
    db = Database(settings.database_url)
    record_promotion(db, "20260101-000000-livelive")
    added = runner.invoke(app, ["intent", "add", "scooter_parking", "--unit", "streets"])
    assert added.exit_code == 0, added.output
    report = validate_project([project / "data/nlu"], project / "routing",
                              project / "domain.yml")
    todo = [e for e in report.errors if "placeholder example" in e]
    assert len(todo) == 3 and all("line " in e for e in todo)  # file and line for each
    for lang, (openers, objects) in EXAMPLES.items():
        path = project / "data" / "nlu" / lang / "enquiries.yml"
        lines = [line for line in path.read_text().splitlines() if "TODO:" not in line]
        lines += [f"    - {a} {b}" for a, b in itertools.product(openers, objects)]
        path.write_text("\n".join(lines) + "\n")
    report = validate_project([project / "data/nlu"], project / "routing",
                              project / "domain.yml")
    assert report.errors == []
    model, _ = train_project(project / "config.yml", [project / "data/nlu"],
                             project / "models")
    promoted = runner.invoke(app, ["models", "promote", model.name])
    assert promoted.exit_code == 0, promoted.output
    assert "36/36" in promoted.output
    assert live_model_id(db) == model.name

    async def chat():
        agent = Agent.load(get_settings())
        try:
            return await agent.handle("maint-1", "Miten haetaan lupa sähköpotkulautojen "
                                                 "pysäköintiin Porvoon keskustassa?")
        finally:
            await agent.aclose()

    replies, tracker = asyncio.run(chat())
    assert tracker.latest_intent == "scooter_parking"
    assert "Kaupungin infrastruktuuri" in " ".join(m.get("text") or "" for m in replies)
