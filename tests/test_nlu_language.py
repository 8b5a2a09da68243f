import pytest

from bot.nlu.language import LanguageIdentifier

# Short chat messages: the kind a restricted identifier must get right.
SHORT_MESSAGES = [
    ("kiitos", "fi"), ("Kiitos paljon!", "fi"), ("joo", "fi"), ("ei kiitos", "fi"),
    ("Huomenta", "fi"), ("rakennuslupa", "fi"), ("Tarvitsen apua", "fi"), ("terassilupa?", "fi"),
    ("tack", "sv"), ("Tack så mycket", "sv"), ("Hej", "sv"), ("nej tack", "sv"),
    ("bygglov", "sv"), ("Jag behöver hjälp", "sv"), ("God morgon", "sv"), ("japp", "sv"),
    ("thanks", "en"), ("Thank you!", "en"), ("yes please", "en"), ("no thanks", "en"),
    ("building permit", "en"), ("I need help", "en"), ("Good morning", "en"), ("hello", "en"),
]


@pytest.fixture(scope="module")
def identifier():
    return LanguageIdentifier()


@pytest.mark.parametrize("text,expected", SHORT_MESSAGES)
def test_language_short_chat_messages(identifier, text, expected):
    assert identifier.identify(text).language == expected


@pytest.mark.parametrize("text,previous", [("ok", "sv"), ("ok", "en"), ("hei", "fi"),
                                           ("👍", "sv"), ("", "en")])
def test_language_ambiguous_keeps_conversation_language(identifier, text, previous):
    assert identifier.identify(text, previous).language == previous
