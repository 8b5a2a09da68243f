import asyncio

import pytest

BAD_INPUT = ["", "   ", "a" * 10000, "x\x00y\x07z\x1b[31m", "<script>alert(1)</script>",
             "'; DROP TABLE enquiry; --", "😀😀😀", "{{7*7}} {name} %s"]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_dialogue_bad_input_gets_a_polite_answer(agent, text):
    sender = f"bad-{abs(hash(text))}"
    asyncio.run(agent.handle_message(sender, "Hej"))
    replies = asyncio.run(agent.handle_message(sender, text))
    assert replies, "the bot always answers"
    for reply in replies:
        assert reply["text"] and "{" not in reply["text"]
        assert "<script>" not in reply["text"]
    assert agent.tracker(sender).get_slot("language") == "sv"


def test_dialogue_bad_business_id_and_email_in_swedish(agent):
    sender = "bad-form-sv"
    for text in ["Jag vill söka tillstånd för en uteservering", "ja", "Anna Andersson"]:
        asyncio.run(agent.handle_message(sender, text))
    reply = asyncio.run(agent.handle_message(sender, "Café Ab 1234567-8"))
    assert "inte ett giltigt FO-nummer" in reply[0]["text"]
    assert sum("FO-nummer" in r["text"] for r in reply) == 2, "said once, then asked"
    assert agent.tracker(sender).get_slot("company") == "Café Ab"
    asyncio.run(agent.handle_message(sender, "nej"))
    reply = asyncio.run(agent.handle_message(sender, "anna(at)cafe"))
    assert "e-postadress" in reply[0]["text"]


def test_dialogue_payload_for_an_unknown_intent_is_plain_text(agent):
    replies = asyncio.run(agent.handle_message("payload-1", "/no_such_intent"))
    assert replies and agent.tracker("payload-1").latest_intent != "no_such_intent"


@pytest.mark.parametrize("language,opening,closed_word", [
    ("fi", ["Haluaisin hakea terassilupaa kahvilalle kesäksi", "kyllä", "Maija Meikäläinen"],
     "kiinni"),
    ("sv", ["Jag vill söka tillstånd för en uteservering till vårt kafé i sommar", "ja",
            "Anna Andersson"], "stängd"),
    ("en", ["I'd like to apply for a terrace permit for our cafe this summer", "yes",
            "Alex Smith"], "closed"),
])
def test_dialogue_out_of_hours_says_when_the_unit_replies(agent, monkeypatch, language,
                                                          opening, closed_word):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import actions.submit

    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    monkeypatch.setattr(actions.submit, "now_in", lambda _zone: saturday)
    sender = f"hours-{language}"
    rest = ["Oy Ab", "someone@example.fi", "/affirm"]
    for text in opening + rest:
        replies = asyncio.run(agent.handle_message(sender, text))
    texts = " ".join(r["text"] for r in replies)
    assert "BP-" in texts and closed_word in texts
    assert {"fi": "ma 30.11.", "sv": "mån 30.11", "en": "Mon 30 Nov"}[language] in texts


def test_dialogue_agent_keeps_no_lock_per_finished_conversation(agent):
    for n in range(5):
        messages, tracker = asyncio.run(agent.handle(f"lock-{n}", "Hei"))
        assert messages and tracker.latest_intent == "greet"
    assert not [key for key in agent._locks if key.startswith("lock-")]
