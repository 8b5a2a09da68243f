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


# A 1 KB "billion laughs": nine aliases of nine aliases ... of "lol", 9**9 of them expanded.
BOMB = "".join(
    [f'{c}: &{c} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' for c in "a"]
    + [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi",
                                                                  strict=True)]
    + ["nlu:\n- intent: greet\n  examples: *i\n"])


def _project(tmp_path, nlu: str):
    (tmp_path / "rasa" / "data").mkdir(parents=True)
    (tmp_path / "rasa" / "data" / "nlu.yml").write_text(nlu, encoding="utf-8")
    return tmp_path / "rasa"


@pytest.mark.parametrize("allow_aliases", [False, True])
def test_yaml_io_refuses_an_alias_bomb_fast_and_small(tmp_path, allow_aliases):
    """Before: the importer's 1 KB bomb took 2.4 GB and 71 s before a MemoryError."""
    import time
    import tracemalloc

    from bot.errors import ConfigFileError
    from bot.yaml_io import read_yaml

    path = _project(tmp_path, BOMB) / "data" / "nlu.yml"
    assert len(BOMB) < 1024
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ConfigFileError) as error:
            read_yaml(path, allow_aliases=allow_aliases)
        took = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert took < 0.5 and peak < 5 * 1024 * 1024
    assert str(path) in str(error.value) and error.value.line is not None
    assert "alias" in str(error.value)


def test_importer_refuses_an_alias_bomb_and_writes_nothing(tmp_path):
    import time
    import tracemalloc

    from bot.errors import TrainingDataError
    from bot.importer import import_rasa

    project = _project(tmp_path, BOMB)
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(TrainingDataError) as error:
            import_rasa(project, tmp_path / "out")
        took = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert took < 1.0 and peak < 10 * 1024 * 1024
    assert error.value.line == 2 and "not accepted in imported data" in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "problem"), [
    ("x: &a [*a]\n", "recursive alias"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64 levels"),
    ("".join(f"k{i}: &a{i} v\n" for i in range(101)) + "".join(
        f"r{i}: *a{i}\n" for i in range(101)), "more than 100 aliases"),
])
def test_yaml_io_refuses_files_beyond_the_limits(tmp_path, content, problem):
    from bot.errors import ConfigFileError
    from bot.yaml_io import read_yaml

    path = tmp_path / "file.yml"
    path.write_text(content)
    with pytest.raises(ConfigFileError) as error:
        read_yaml(path)
    assert problem in str(error.value) and error.value.line is not None


def test_yaml_io_refuses_a_file_over_the_size_limit_naming_it(tmp_path):
    from bot.errors import ConfigFileError
    from bot.yaml_io import MAX_YAML_BYTES, read_yaml

    path = tmp_path / "big.yml"
    path.write_text("x: " + "a" * MAX_YAML_BYTES + "\n")
    with pytest.raises(ConfigFileError) as error:
        read_yaml(path)
    assert str(path) in str(error.value) and "larger than 4 MB" in str(error.value)


def test_yaml_io_reads_the_project_files_with_their_aliases(root):
    from bot.yaml_io import read_yaml

    units = read_yaml(root / "routing" / "units.yml")
    assert units  # routing/units.yml shares its exceptions through an alias


HOSTILE_NAMES = [
    ('- intent: "greet\\n- intent: evil\\n  examples: |\\n    - pwned"\n'
     "  examples: |\n    - hello\n", 3, "intent"),
    ('- intent: "ask: permit"\n  examples: |\n    - hello\n', 3, "intent"),
    ("- intent: ask_permit\n  examples: |\n    - hello\n"
     "    - in [Porvoo]{\"entity\": \"city\\nx: y\"} please\n", 6, "entity"),
    ("- intent: ask_permit\n  examples: |\n    - in [Porvoo](ci ty) please\n", 5, "entity"),
    ('- lookup: "area # x"\n  examples: |\n    - Kevätkumpu\n', 3, "lookup"),
    ('- synonym: "Vanha\\nPorvoo"\n  examples: |\n    - Gamla Borgå\n', 3, "synonym"),
    ('- intent: "faq/opening_hours"\n  examples: |\n    - hello\n', 3, "intent"),
]


@pytest.mark.parametrize(("items", "line", "kind"), HOSTILE_NAMES)
def test_importer_refuses_a_name_yaml_would_read_as_syntax(tmp_path, items, line, kind):
    """Before: an intent name with a newline put its own YAML into the files written."""
    from bot.errors import TrainingDataError
    from bot.importer import import_rasa

    project = _project(tmp_path, 'version: "3.1"\nnlu:\n' + items)
    with pytest.raises(TrainingDataError) as error:
        import_rasa(project, tmp_path / "out")
    assert error.value.path == str(project / "data" / "nlu.yml")
    assert error.value.line == line and f"the {kind} name" in str(error.value)
    assert "is not accepted" in str(error.value) and "letters" in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_importer_cli_names_the_file_and_line_of_a_bad_name(tmp_path):
    project = _project(tmp_path, HOSTILE_NAMES[0][0].join(['version: "3.1"\nnlu:\n', ""]))
    result = CliRunner().invoke(app, ["import", "rasa", str(project),
                                      "--data", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert f"{project / 'data' / 'nlu.yml'}, line 3" in result.output
    assert not (tmp_path / "out").exists()


# Texts that mean something to YAML, kept as text by the safe dumper.
AWKWARD_TEXTS = ["key: value # not a comment", "'quoted' and \"double\"", "- a dash first",
                 "{braces} [brackets] &anchor *alias", "@at %percent !tag |pipe >fold",
                 "ring the \a bell", "tab\there", "ääkköset ja åäö"]


@pytest.mark.parametrize("intent", ["ask_permit", "faq.opening-hours", "yes", "0start"])
def test_importer_writes_names_and_texts_that_read_back_the_same(tmp_path, intent):
    import json

    from bot.importer import import_rasa
    from bot.nlu.training_data import load_training_data

    examples = "".join(f"- {t}\n" for t in AWKWARD_TEXTS)
    project = _project(tmp_path, 'version: "3.1"\nnlu:\n' + f"- intent: {intent}\n"
                       f"  examples: {json.dumps(examples, ensure_ascii=False)}\n")
    report = import_rasa(project, tmp_path / "out")
    data = load_training_data(report.written)
    assert sorted((e.intent, e.text) for e in data.examples) == sorted(
        (intent, t) for t in AWKWARD_TEXTS)
