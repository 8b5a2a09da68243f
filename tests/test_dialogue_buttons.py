"""Typed replies to buttons (data/buttons.yml, bot/dialogue/buttons.py)."""

import pytest

from bot.dialogue.buttons import ButtonWords, normalise, offered_buttons
from bot.errors import ConfigFileError
from tests.conftest import ROOT

OFFER = {
    "fi": [{"title": "Kyllä, välitä", "payload": "/affirm"},
           {"title": "Ei kiitos", "payload": "/deny"}],
    "sv": [{"title": "Ja, förmedla", "payload": "/affirm"},
           {"title": "Nej tack", "payload": "/deny"}],
    "en": [{"title": "Yes, forward it", "payload": "/affirm"},
           {"title": "No thanks", "payload": "/deny"}],
}
SUMMARY = {
    "fi": [{"title": "Lähetä", "payload": "/affirm"},
           {"title": "Korjaa tietoja", "payload": "/correct"},
           {"title": "Peruuta", "payload": "/stop"}],
    "sv": [{"title": "Skicka", "payload": "/affirm"},
           {"title": "Korrigera uppgifter", "payload": "/correct"},
           {"title": "Avbryt", "payload": "/stop"}],
    "en": [{"title": "Send", "payload": "/affirm"},
           {"title": "Correct details", "payload": "/correct"},
           {"title": "Cancel", "payload": "/stop"}],
}
BOTH = {"fi": [{"title": "Molemmat", "payload": "/add_matter"},
               {"title": "Vain uusi", "payload": "/replace_matter"}]}
BUTTONS = {"offer": OFFER, "summary": SUMMARY, "both": BOTH}

TYPED = [
    ("fi", "offer", "kyllä kiitos", "/affirm"),
    ("fi", "offer", "Hyväksyn", "/affirm"),
    ("fi", "offer", "kylä", "/affirm"),
    ("fi", "offer", "ei kiitos", "/deny"),
    ("fi", "offer", "en hyväksy", "/deny"),
    ("fi", "summary", "Lähetä", "/affirm"),
    ("fi", "summary", "laheta", "/affirm"),
    ("fi", "summary", "joo lähetä vaan", "/affirm"),
    ("fi", "summary", "älä lähetä", "/stop"),
    ("fi", "summary", "korjaa", "/correct"),
    ("fi", "both", "molemmat", "/add_matter"),
    ("fi", "both", "vain uusi", "/replace_matter"),
    ("sv", "offer", "ja tack", "/affirm"),
    ("sv", "offer", "Jag godkänner", "/affirm"),
    ("sv", "offer", "nej", "/deny"),
    ("sv", "summary", "Skicka", "/affirm"),
    ("sv", "summary", "skicka inte", "/stop"),
    ("en", "offer", "yes please", "/affirm"),
    ("en", "offer", "I agree", "/affirm"),
    ("en", "offer", "Nooo", "/deny"),
    ("en", "summary", "Send it", "/affirm"),
    ("en", "summary", "SEND!", "/affirm"),
]
NOT_A_BUTTON = [
    ("fi", "offer", "milloin olette auki?"),
    ("fi", "offer", "kyllä, mutta paljonko se maksaa?"),
    ("sv", "summary", "skicka int"),
    ("en", "summary", "don't send"),
    ("en", "offer", "yes and no"),
]


@pytest.fixture(scope="module")
def words() -> ButtonWords:
    return ButtonWords.load(ROOT / "data" / "buttons.yml")


@pytest.mark.parametrize("lang,offered,text,payload", TYPED)
def test_dialogue_buttons_typed_words_are_clicks(words, lang, offered, text, payload):
    found = words.match(text, BUTTONS[offered][lang], lang)
    assert found is not None and found["payload"] == payload


@pytest.mark.parametrize("lang,offered,text", NOT_A_BUTTON)
def test_dialogue_buttons_other_words_go_to_the_nlu(words, lang, offered, text):
    found = words.match(text, BUTTONS[offered][lang], lang)
    assert found is None or found["payload"] != "/affirm"


@pytest.mark.parametrize("text", ["ja tack", "yes please"])
def test_dialogue_buttons_match_in_another_language(words, text):
    assert words.match(text, OFFER["fi"], "fi") is None
    assert words.match_any(text, OFFER["fi"], "fi")["payload"] == "/affirm"


@pytest.mark.parametrize("lang,text", [("fi", "joo"), ("sv", "ja gärna"), ("en", "yes")])
def test_dialogue_buttons_yes_to_a_single_button_clicks_it(words, lang, text):
    person = [{"title": "Välitä ihmiselle", "payload": "/human_handoff"}]
    assert words.match(text, person, lang)["payload"] == "/human_handoff"


@pytest.mark.parametrize("lang,text,negated", [
    ("fi", "älä lähetä", True), ("sv", "Skicka int", True), ("en", "Don't send it", True),
    ("fi", "lähetä", False), ("en", "send it now", False)])
def test_dialogue_buttons_negations(words, lang, text, negated):
    assert words.negated(text, lang) is negated


@pytest.mark.parametrize("text,expected", [("Lähetä!", "laheta"), ("Nooo", "no"),
                                           ("  JAG  godkänner ", "jag godkanner")])
def test_dialogue_buttons_normalise(text, expected):
    assert normalise(text) == expected


def test_dialogue_buttons_offered_since_the_latest_message():
    events = [{"event": "bot", "text": "a", "data": {"buttons": OFFER["fi"]}},
              {"event": "user", "text": "kyllä"},
              {"event": "bot", "text": "b", "data": {}},
              {"event": "bot", "text": "c", "data": {"buttons": SUMMARY["fi"]}}]
    assert offered_buttons(events) == SUMMARY["fi"]
    assert offered_buttons([*events, {"event": "user", "text": "x"}]) == []


def test_dialogue_buttons_file_mistake_names_file_and_key(tmp_path):
    path = tmp_path / "buttons.yml"
    path.write_text("version: 1\nsynonyms:\n  affirm:\n    en: [yes, sure]\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as err:
        ButtonWords.load(path)
    assert "buttons.yml" in str(err.value) and "synonyms.affirm.en.0" in str(err.value)


def test_dialogue_buttons_missing_file_means_titles_only(tmp_path):
    words = ButtonWords.load(tmp_path / "none.yml")
    assert words.match("Kyllä, välitä", OFFER["fi"], "fi")["payload"] == "/affirm"
    assert words.match("joo", OFFER["fi"], "fi") is None
