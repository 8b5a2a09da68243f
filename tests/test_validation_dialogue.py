"""`bpbot validate`: responses per language, names in rules and stories, rules per intent.

Each test builds a small project in tmp_path (the real routing/units.yml, a tiny domain,
rules, routes, stories and generated NLU examples) and edits one file to break one thing.
"""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.constants import MIN_EXAMPLES_CONVERSATIONAL, MIN_EXAMPLES_ROUTABLE
from bot.dialogue.rules import load_rules
from bot.validation import (
    intents_starting_rules,
    named_steps,
    validate_project,
    yaml_lines,
)

DOMAIN = """\
version: "3.1"
intents: [greet, inform, terrace_permit, street_works]
slots:
  language:
    type: categorical
    values: [fi, sv, en]
    initial_value: fi
    mappings: [{type: custom}]
actions: [action_route_enquiry]
responses:
  utter_greet:
    - condition: [{type: slot, name: language, value: fi}]
      text: "Hei!"
    - condition: [{type: slot, name: language, value: sv}]
      text: "Hej!"
    - condition: [{type: slot, name: language, value: en}]
      text: "Hello!"
forms:
  enquiry_form:
    required_slots: []
"""

RULES = """\
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: route
  steps:
  - or:
    - intent: terrace_permit
    - intent: street_works
  - action: action_route_enquiry
- rule: unsure
  steps:
  - intent: nlu_fallback
  - action: action_default_fallback
"""

ROUTES = """\
version: 1
conversational: [greet, inform]
routes:
  - {intent: terrace_permit, unit: streets}
  - {intent: street_works, unit: streets}
"""

STORIES = """\
version: "3.1"
stories:
- story: greet
  steps:
  - user: |
      Hei
    intent: greet
  - action: utter_greet
"""

# (intent, routable)
INTENTS = [("greet", False), ("inform", False), ("terrace_permit", True),
           ("street_works", True)]


def _nlu(lang: str) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for intent, routable in INTENTS:
        count = MIN_EXAMPLES_ROUTABLE[lang] if routable else MIN_EXAMPLES_CONVERSATIONAL
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {lang} {intent} example {i}" for i in range(count)]
    return "\n".join(lines) + "\n"


@pytest.fixture()
def small_project(tmp_path: Path, root: Path) -> Path:
    files = {"domain.yml": DOMAIN, "data/rules.yml": RULES, "routing/routes.yml": ROUTES,
             "tests/stories/stories.yml": STORIES}
    files.update({f"data/nlu/{lang}/nlu.yml": _nlu(lang) for lang in ("fi", "sv", "en")})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    shutil.copy(root / "routing/units.yml", tmp_path / "routing/units.yml")
    return tmp_path


def _edit(project: Path, name: str, old: str, new: str) -> None:
    path = project / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def _validate(project: Path):
    return validate_project([project / "data/nlu"], project / "routing",
                            project / "domain.yml")


def test_validation_dialogue_small_project_passes(small_project):
    report = _validate(small_project)
    assert report.errors == []
    assert report.ok


# (file, old text, new text, pieces of the one expected error)
BROKEN_CASES = [
    ("domain.yml", '''    - condition: [{type: slot, name: language, value: sv}]
      text: "Hej!"
''', "", ["domain.yml, line 11", "response 'utter_greet' has no sv variation",
         "found variations for fi, en", "value: sv}]"]),
    ("domain.yml", '''    - condition: [{type: slot, name: language, value: fi}]
      text: "Hei!"
    - condition: [{type: slot, name: language, value: sv}]
      text: "Hej!"
    - condition: [{type: slot, name: language, value: en}]
''', "    - ", ["response 'utter_greet' has no fi, sv, en variation",
              "found 1 variation(s) without a language condition"]),
    ("data/rules.yml", "    - intent: terrace_permit", "    - intent: terace_permit",
     ["rules.yml, line 10: rule 'route' names the intent 'terace_permit'",
      "not under 'intents' in", "Did you mean 'terrace_permit'?"]),
    ("data/rules.yml", "  - action: utter_greet", "  - action: utter_gret",
     ["rules.yml, line 6: rule 'greet' names the action 'utter_gret'",
      "Did you mean 'utter_greet'?", "nor a built-in action"]),
    ("tests/stories/stories.yml", "    intent: greet", "    intent: gret",
     ["stories.yml, line 7: story 'greet' names the intent 'gret'", "Did you mean 'greet'?"]),
    ("tests/stories/stories.yml", "  - action: utter_greet", "  - action: action_greet_user",
     ["stories.yml, line 8: story 'greet' names the action 'action_greet_user'",
      "Fix the spelling, or declare it in"]),
    ("data/rules.yml", "    - intent: street_works\n", "",
     ["routes.yml, line 5: intent 'street_works' has a route, but no rule in",
      "Sorry, I didn't understand", "found: no rule names it",
      "Make the first step of the rule 'route'",
      "an 'or:' that lists '- intent: terrace_permit' and '- intent: street_works'"]),
    ("routing/routes.yml", "conversational: [greet, inform]\nroutes:\n",
     "conversational: [greet]\nroutes:\n  - {intent: inform, unit: streets}\n",
     ["routes.yml, line 4: intent 'inform' has a route, but no rule in",
      "found: no rule names it", "Add '- intent: inform' under 'or:' of the rule 'route'"]),
]


@pytest.mark.parametrize("name,old,new,needles", BROKEN_CASES)
def test_validation_dialogue_reports_problem(small_project, name, old, new, needles):
    _edit(small_project, name, old, new)
    errors = _validate(small_project).errors
    found = [e for e in errors if needles[0] in e]
    assert len(found) == 1, errors
    for needle in needles[1:]:
        assert needle in found[0]


# A routable intent that only a rule inside a form starts, or that a rule names later.
ONLY_ELSEWHERE_CASES = [
    ("- rule: in the form\n  condition:\n  - active_loop: enquiry_form\n  steps:\n"
     "  - intent: street_works\n  - action: action_route_enquiry\n", "'in the form'"),
    ("- rule: after greeting\n  steps:\n  - action: utter_greet\n  - intent: street_works\n"
     "  - action: action_route_enquiry\n", "'after greeting'"),
]


@pytest.mark.parametrize("rule,needle", ONLY_ELSEWHERE_CASES)
def test_validation_dialogue_routable_intent_only_elsewhere(small_project, rule, needle):
    _edit(small_project, "data/rules.yml", "    - intent: street_works\n", "")
    with (small_project / "data/rules.yml").open("a") as f:
        f.write(rule)
    errors = _validate(small_project).errors
    assert len(errors) == 1, errors
    assert f"it appears only in rule(s) {needle}" in errors[0]


@pytest.mark.parametrize("intent", ["inform"])
def test_validation_dialogue_intent_without_rule_is_warning(small_project, intent):
    report = _validate(small_project)
    assert report.ok
    assert any(f"Intent '{intent}' has training examples but no rule" in w
               for w in report.warnings)


@pytest.mark.parametrize("name", ["greet"])
def test_validation_dialogue_conversational_rule_removes_warning(small_project, name):
    _edit(small_project, "data/rules.yml", "- rule: unsure\n",
          "- rule: inform\n  steps:\n  - intent: inform\n  - action: utter_greet\n"
          "- rule: unsure\n")
    assert not any("has training examples but no rule" in w
                   for w in _validate(small_project).warnings)


@pytest.mark.parametrize("which,arg", [("rules_paths", "data/rules.yml"),
                                       ("story_paths", "tests/stories")])
def test_validation_dialogue_explicit_paths(small_project, which, arg):
    other = small_project / "elsewhere.yml"
    shutil.copy(small_project / arg if arg.endswith(".yml") else
                small_project / arg / "stories.yml", other)
    _edit(small_project, "elsewhere.yml", "utter_greet", "utter_hello")
    report = validate_project([small_project / "data/nlu"], small_project / "routing",
                              small_project / "domain.yml", **{which: [other]})
    assert len(report.errors) == 1
    assert "elsewhere.yml" in report.errors[0] and "'utter_hello'" in report.errors[0]


@pytest.mark.parametrize("which", ["rules_paths", "story_paths"])
def test_validation_dialogue_missing_path_is_error(small_project, which):
    report = validate_project([small_project / "data/nlu"], small_project / "routing",
                              small_project / "domain.yml",
                              **{which: [small_project / "nope.yml"]})
    assert any("nope.yml" in e and "no such file" in e for e in report.errors)


@pytest.mark.parametrize("text,path,line", [
    ("a:\n  b: 1\n  c:\n  - x\n  - y: 2\n", ("a", "c", 1, "y"), 5),
    ("rules:\n- rule: r\n  steps:\n  - intent: greet\n", ("rules", 0, "steps", 0, "intent"), 4),
])
def test_validation_yaml_lines(tmp_path, text, path, line):
    target = tmp_path / "f.yml"
    target.write_text(text)
    assert yaml_lines(target)[path] == line


@pytest.mark.parametrize("section,expected", [
    ("rules", [("intent", "greet", 5), ("action", "utter_greet", 6),
               ("intent", "terrace_permit", 10), ("intent", "street_works", 11),
               ("action", "action_route_enquiry", 12), ("intent", "nlu_fallback", 15),
               ("action", "action_default_fallback", 16)]),
])
def test_validation_named_steps(small_project, section, expected):
    steps = named_steps(small_project / "data/rules.yml", section)
    assert [(s.kind, s.name, s.line) for s in steps] == expected


@pytest.mark.parametrize("expected", [{"greet", "terrace_permit", "street_works",
                                       "nlu_fallback"}])
def test_validation_intents_starting_rules(small_project, expected):
    assert intents_starting_rules(load_rules([small_project / "data/rules.yml"])) == expected


@pytest.mark.parametrize("broken,exit_code", [(False, 0), (True, 1)])
def test_validation_cli_exit_code(small_project, monkeypatch, broken, exit_code):
    if broken:
        _edit(small_project, "data/rules.yml", "    - intent: terrace_permit",
              "    - intent: terace_permit")
        _edit(small_project, "domain.yml", '      text: "Hej!"\n', '      text: "Hello!"\n')
        _edit(small_project, "domain.yml", "value: sv}", "value: en}")
    monkeypatch.chdir(small_project)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == exit_code, result.output
    if broken:
        assert "error: " in result.output
        assert "'terace_permit'" in result.output
        assert "response 'utter_greet' has no sv variation" in result.output


@pytest.mark.parametrize("name,text,needles", [
    ("data/rules.yml", 'version: "3.1"\nrules:\n- rule: fine\n  steps:\n  - intent: greet\n'
     "  - action: utter_greet\n- rule: broken\n  steps: 5\n",
     ["rules.yml, line 7", "key 'broken'", "expected a non-empty list of steps"]),
    ("data/rules.yml", 'version: "3.1"\nrules:\n- just a string\n',
     ["rules.yml, line 3", "each rule needs 'rule: <name>' and 'steps'"]),
    ("tests/stories/stories.yml", 'version: "3.1"\nstories:\n- story: x\n  steps:\n'
     "  - user: hei\n    intent: greet\n  - 7\n", ["stories.yml, line 3", "unsupported step 7"]),
    ("tests/stories/stories.yml", 'version: "3.1"\nstories:\n- 5\n',
     ["stories.yml, line 3", "each story needs"]),
    ("tests/stories/stories.yml", 'version: "3.1"\nstories: nope\n',
     ["stories.yml, line 2", "'stories' must be a list"]),
])
def test_validation_malformed_rules_and_stories_name_file_and_line(small_project, name, text,
                                                                     needles):
    """Before: a malformed stories file raised AttributeError, a rules file TypeError."""
    (small_project / name).write_text(text)
    errors = _validate(small_project).errors
    found = [e for e in errors if needles[0] in e]
    assert len(found) == 1, errors
    assert all(n in found[0] for n in needles[1:]), found[0]
