"""`bpbot import rasa`: a plain Rasa project's data into language folders, routes, pipeline."""

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.errors import UnknownComponentError
from tests.conftest import ROOT

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hey
    - hello there
    - moi
- intent: ask_permit
  examples: |
    - Miten haen terassilupaa kahvilalle?
    - Hur ansöker jag om tillstånd för en uteservering?
    - How do I apply for a terrace permit in [Porvoo](city)?
    - Tarvitsemme luvan kadulle pöydille
"""
CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: DIETClassifier
    epochs: 100
  - name: ResponseSelector
"""


@pytest.fixture()
def rasa_project(tmp_path):
    (tmp_path / "rasa" / "data").mkdir(parents=True)
    (tmp_path / "rasa" / "data" / "nlu.yml").write_text(NLU)
    (tmp_path / "rasa" / "config.yml").write_text(CONFIG)
    return tmp_path / "rasa"


def test_import_rasa_sorts_languages_suggests_routes_maps_the_pipeline(
        rasa_project, tmp_path, monkeypatch, trained_model_dir):
    from bot.settings import get_settings

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("BPBOT_MODELS_PATH", str(trained_model_dir))
    monkeypatch.setenv("BPBOT_DATABASE_URL", f"sqlite:///{tmp_path}/none.sqlite3")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", "rasa", str(rasa_project),
                                          "--data", str(tmp_path / "out")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    sv = (tmp_path / "out" / "sv" / "imported.yml").read_text()
    assert "Hur ansöker jag om tillstånd för en uteservering?" in sv
    en = (tmp_path / "out" / "en" / "imported.yml").read_text()
    assert "terrace permit in Porvoo?" in en  # the entity annotation as plain text
    fi = (tmp_path / "out" / "fi" / "imported.yml").read_text()
    assert "Tarvitsemme luvan kadulle pöydille" in fi
    assert "Check the language of" in result.output and "greet: moi" in result.output
    assert "{intent: ask_permit, unit: streets}" in result.output
    assert "DIETClassifier -> EmbeddingIntentClassifier" in result.output
    assert "ResponseSelector: not available" in result.output


def test_train_stops_at_a_rasa_component_naming_the_replacement(rasa_project):
    """Before: `bpbot train` stopped at Rasa's component names without saying what to use."""
    with pytest.raises(UnknownComponentError) as error:
        load_config(rasa_project / "config.yml")
    assert "'WhitespaceTokenizer' is Rasa's" in str(error.value)
    assert "bpbot import rasa" in str(error.value)
