"""Held-out follow-up questions and typed answers, read in the state they are asked in."""

import json

import pytest

from bot.dialogue.responses import render_response
from bot.dialogue.tracker import DialogueTracker, bot_event, slot_event
from tests.conftest import ROOT

HELDOUT = ROOT / "tests" / "data" / "heldout"
LANGUAGES = ["fi", "sv", "en"]
FOLLOWUP_FLOOR = 0.85
TYPED_FLOOR = 0.9
# At the offer, "cancel" (stop) also declines: nothing is sent.
MEANS = {"utter_offer_forward": {"affirm": {"affirm"}, "deny": {"deny", "stop"}},
         "utter_summary": {"affirm": {"affirm"}, "deny": {"deny", "stop", "nlu_fallback"}}}


def _rows(name, language):
    return [r for r in (json.loads(line) for line in
                        (HELDOUT / name).read_text(encoding="utf-8").splitlines() if line)
            if r["language"] == language]


def _asked(agent, language, response, *, matter=True):
    events = [slot_event("language", language)]
    if matter:
        events += [slot_event("matters", [{"unit": "streets", "intent": "terrace_permit",
                                           "text": "terassi", "state": "open",
                                           "reference": None}]),
                   slot_event("unit", "streets"), slot_event("offer_pending", True)]
    tracker = DialogueTracker("heldout", agent.domain, events)
    tracker.update(bot_event(render_response(agent.domain, response, tracker.slots)))
    return tracker


@pytest.mark.parametrize("language", LANGUAGES)
def test_dialogue_heldout_followups_are_read_as_questions(agent, language):
    rows = _rows("followups.jsonl", language)
    wrong = []
    for row in rows:
        parsed = agent.parse(row["text"], _asked(agent, language, "utter_offer_forward"))
        if parsed["intent"]["name"] != row["intent"]:
            wrong.append((row["text"], row["intent"], parsed["intent"]["name"]))
    assert len(rows) >= 80
    assert 1 - len(wrong) / len(rows) >= FOLLOWUP_FLOOR, wrong


@pytest.mark.parametrize("response", list(MEANS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_dialogue_heldout_typed_answers_mean_what_they_say(agent, language, response):
    rows = _rows("typed_answers.jsonl", language)
    misread, refused_but_sent = [], []
    for row in rows:
        intent = agent.parse(row["text"], _asked(agent, language, response))["intent"]["name"]
        if intent not in MEANS[response][row["means"]]:
            misread.append((row["text"], row["means"], intent))
        if row["means"] == "deny" and intent == "affirm":
            refused_but_sent.append(row["text"])
    assert not refused_but_sent, "a no must never be read as a yes"
    assert 1 - len(misread) / len(rows) >= TYPED_FLOOR, misread
