import pytest

from bot.dialogue.domain import load_domain
from bot.dialogue.rules import RulePolicy, load_rules
from bot.dialogue.tracker import DialogueTracker, action_event, slot_event, user_event
from bot.errors import DomainError, RulesError
from tests.conftest import ROOT

BASE = """
version: "3.1"
intents: [greet, affirm]
entities: [email]
slots:
  language: {type: categorical, values: [fi, sv, en], initial_value: fi, mappings: [{type: custom}]}
  contact: {type: text, mappings: [{type: from_entity, entity: email}]}
responses:
  utter_greet:
    - {condition: [{type: slot, name: language, value: fi}], text: Hei}
    - {condition: [{type: slot, name: language, value: sv}], text: Hej}
"""


def write(tmp_path, text, name="domain.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("extra,key,needle", [
    ("\nsomething: 1\n", "something", "not supported"),
    ("\nforms:\n  f: {required_slots: [missing]}\n", "forms.f", "not declared"),
    ("\nresponses:\n  greet: [{text: x}]\n", "responses.greet", "start with 'utter_'"),
    ("\nforms:\n  f: {required_slots: [contact], mystery: 2}\n", "forms.f.mystery",
     "not supported"),
])
def test_dialogue_domain_errors_name_file_and_key(tmp_path, extra, key, needle):
    text = BASE if "responses" not in extra else BASE.split("responses:")[0]
    path = write(tmp_path, text + extra)
    with pytest.raises(DomainError, match=needle) as info:
        load_domain(path)
    assert str(path) in str(info.value) and key in str(info.value)


def test_dialogue_domain_intent_properties_are_refused(tmp_path):
    path = write(tmp_path, BASE.replace("intents: [greet, affirm]",
                                        "intents:\n  - greet: {use_entities: true}"))
    with pytest.raises(DomainError, match="per-item properties"):
        load_domain(path)


def test_dialogue_project_button_titles_are_words_not_yaml_booleans():
    domain = load_domain(ROOT / "domain.yml")
    titles = [b.title for vs in domain.responses.values() for v in vs for b in v.buttons]
    assert "Yes, forward it" in titles
    assert not [t for t in titles if t.split(",")[0] in ("True", "False")]


def test_dialogue_project_domain_has_every_response_in_three_languages():
    domain = load_domain(ROOT / "domain.yml")
    for name, variations in domain.responses.items():
        languages = sorted(c.value for v in variations for c in v.condition
                           if c.name == "language")
        assert languages == ["en", "fi", "sv"], name


@pytest.mark.parametrize("step,needle", [
    ("- checkpoint: x", "unsupported step keys"),
    ("- user: hello", "unsupported step keys"),
    ("- or: [{action: x}]", "'or' takes a list"),
])
def test_dialogue_rules_unsupported_steps(tmp_path, step, needle):
    path = write(tmp_path, f"version: '3.1'\nrules:\n- rule: r\n  steps:\n  {step}\n",
                 "rules.yml")
    with pytest.raises(RulesError, match=needle) as info:
        load_rules([path])
    assert str(path) in str(info.value)


@pytest.fixture(scope="module")
def domain():
    return load_domain(ROOT / "domain.yml")


def make_tracker(domain, *steps):
    tracker = DialogueTracker("t", domain)
    for kind, value in steps:
        if kind == "intent":
            tracker.update(user_event(value, {"intent": {"name": value, "confidence": 1.0}}))
        elif kind == "action":
            tracker.update(action_event(value))
        else:
            tracker.update(slot_event(*value))
    return tracker


def test_dialogue_rule_policy_prefers_the_longest_match(tmp_path, domain):
    path = write(tmp_path, """
version: "3.1"
rules:
- rule: short
  steps: [{intent: affirm}, {action: utter_greet}]
- rule: long
  steps:
  - action: action_route_enquiry
  - slot_was_set: [{offer_pending: true}]
  - intent: affirm
  - action: enquiry_form
""", "rules.yml")
    policy = RulePolicy(load_rules([path]))
    offered = make_tracker(domain, ("action", "action_route_enquiry"),
                           ("slot", ("offer_pending", True)), ("intent", "affirm"))
    assert policy.predict(offered.turns()).action == "enquiry_form"
    not_offered = make_tracker(domain, ("action", "action_route_enquiry"),
                               ("intent", "affirm"))
    assert policy.predict(not_offered.turns()).action == "utter_greet"
    offered.update(action_event("enquiry_form"))
    assert policy.predict(offered.turns()).action == "action_listen"


def test_dialogue_tracker_rewind_undo_restart(domain):
    tracker = make_tracker(domain, ("intent", "greet"), ("action", "utter_greet"),
                           ("slot", ("unit", "streets")))
    tracker.update({"event": "undo"})
    assert tracker.latest_action_name is None or tracker.latest_action_name != "utter_greet"
    assert tracker.get_slot("unit") is None
    tracker.update({"event": "rewind"})
    assert tracker.latest_message == {}
    tracker.update(slot_event("unit", "posintra"))
    tracker.update({"event": "restart"})
    assert tracker.get_slot("unit") is None
    state = tracker.as_sdk_state()
    assert state["sender_id"] == "t" and state["events"] == []
