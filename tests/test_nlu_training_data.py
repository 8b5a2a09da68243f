import pytest

from bot.errors import TrainingDataError
from bot.nlu.training_data import load_training_data, parse_annotated

ANNOTATED = [
    ("Y-tunnus [3416721-2](business_id)", "Y-tunnus 3416721-2", "business_id", "3416721-2"),
    ('Alue [Sköldvik]{"entity": "area", "value": "Kilpilahti"}', "Alue Sköldvik", "area",
     "Kilpilahti"),
    ("In [Old Porvoo](area:Vanha Porvoo) now", "In Old Porvoo now", "area", "Vanha Porvoo"),
]


@pytest.mark.parametrize("raw,plain,entity,value", ANNOTATED)
def test_training_data_annotations(raw, plain, entity, value):
    text, entities = parse_annotated(raw)
    assert text == plain
    assert entities[0]["entity"] == entity and entities[0]["value"] == value
    assert text[entities[0]["start"]:entities[0]["end"]] == entities[0]["text"]


def test_training_data_project_languages(training_data):
    langs = {e.language for e in training_data.examples}
    assert langs == {"fi", "sv", "en"}
    assert training_data.synonyms["sköldvik"] == "Kilpilahti"
    assert "area" in training_data.lookups
    assert len(training_data.fingerprint) == 64


def _write(tmp_path, text, lang="fi"):
    folder = tmp_path / lang
    folder.mkdir(exist_ok=True)
    path = folder / "x.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("content,key", [
    ('version: "3.1"\nnlu:\n- intent: a\n  exampels: |\n    - hi\n', "exampels"),
    ('version: "3.1"\nnlux: []\n', "nlux"),
    ('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    hi\n', "examples"),
    ('version: "3.1"\nnlu:\n- regex: r\n  examples: |\n    - "[a-"\n', "regex r"),
])
def test_training_data_errors_name_file_and_key(tmp_path, content, key):
    path = _write(tmp_path, content)
    with pytest.raises(TrainingDataError) as err:
        load_training_data([path])
    assert str(path) in str(err.value) and key in str(err.value)


def test_training_data_missing_file(tmp_path):
    with pytest.raises(Exception) as err:
        load_training_data([tmp_path / "nope.yml"])
    assert "nope.yml" in str(err.value)


def test_training_data_invalid_yaml_and_utf8(tmp_path):
    path = _write(tmp_path, "nlu: [\n")
    with pytest.raises(TrainingDataError, match="invalid YAML at line"):
        load_training_data([path])
    path.write_bytes(b"nlu:\n- intent: a\n  examples: |\n    - \xff\n")
    with pytest.raises(TrainingDataError, match="UTF-8"):
        load_training_data([path])
