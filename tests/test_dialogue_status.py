"""Whole conversations through the agent: the status question (never a list, limited)."""

import pytest

from bot.store.enquiries import STATUS_LOOKUPS_PER_MINUTE
from tests.test_dialogue_matters import FORM, TERRACE, enquiries_of, say, texts_of

LANGUAGES = ["fi", "sv", "en"]
ASK = {"fi": "Mikä on kyselyni tila?", "sv": "Vad är status för mitt ärende?",
       "en": "What is the status of my enquiry?"}
MY_EMAIL = {"fi": "Mikä on kyselyni tila? Sähköpostini on {email}",
            "sv": "Vad är status för mitt ärende? Min e-post är {email}",
            "en": "What's the status of my enquiry? My e-mail is {email}"}
WITH_REFERENCE = {"fi": "Mikä on kyselyn {reference} tila? {email}",
                  "sv": "Vad är status för ärende {reference}? {email}",
                  "en": "What is the status of enquiry {reference}? {email}"}
RECEIVED = {"fi": "vastaanotettu", "sv": "mottaget", "en": "received"}
BY_REFERENCE = {"fi": "viitenumerolla", "sv": "med dess referensnummer",
                "en": "by its reference"}
WAIT = {"fi": "liian monta kertaa", "sv": "för många gånger", "en": "too many times"}


def submitted(agent, sender, lang, email=None):
    """An enquiry sent in conversation `sender`: (its reference, its e-mail address)."""
    name, company, given = FORM[lang]
    say(agent, sender, TERRACE[lang], "/affirm", name, company, email or given, "/affirm")
    (enquiry,) = enquiries_of(agent, sender)
    return enquiry.reference, email or given


def ask(agent, sender, lang, reference="", email=""):
    if reference:
        text = WITH_REFERENCE[lang].format(reference=reference, email=email)
    else:
        text = MY_EMAIL[lang].format(email=email) if email else ASK[lang]
    return texts_of(say(agent, sender, text.strip()))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_status_never_lists_references(agent, lang):
    """Before: "status?" listed the conversation's references (taken over by its id, the
    victim's); now the reference must be typed."""
    reference, email = submitted(agent, f"status-list-owner-{lang}", lang)
    own = ask(agent, f"status-list-owner-{lang}", lang)
    assert reference not in own and BY_REFERENCE[lang] in own
    known = ask(agent, f"status-list-stranger-{lang}", lang, email=email)
    unknown = ask(agent, f"status-list-nobody-{lang}", lang, email=f"nobody-{lang}@example.fi")
    assert reference not in known and BY_REFERENCE[lang] in known
    assert known == unknown, "a known and an unknown e-mail address read the same"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_status_only_for_a_typed_reference_the_conversation_proves(agent, lang):
    owner, stranger = f"status-proof-owner-{lang}", f"status-proof-stranger-{lang}"
    reference, email = submitted(agent, owner, lang)
    mine = ask(agent, owner, lang, reference)
    assert reference in mine and RECEIVED[lang] in mine, "made in this conversation"
    alone = ask(agent, stranger, lang, reference)
    missing = ask(agent, stranger, lang, f"BP-2026-97000{LANGUAGES.index(lang)}")
    wrong = ask(agent, stranger, lang, reference, f"other-{lang}@example.fi")
    assert reference not in alone and alone == wrong
    assert missing.replace(f"BP-2026-97000{LANGUAGES.index(lang)}", reference) == alone, (
        "an existing and a missing reference read the same")
    proven = ask(agent, stranger, lang, reference, email.upper())
    assert reference in proven and RECEIVED[lang] in proven, "the reference with its e-mail"


def test_dialogue_status_lookups_are_limited_per_conversation(agent):
    """Before: any number of lookups; references could be tried one after another."""
    sender = "status-many-lookups"
    per = STATUS_LOOKUPS_PER_MINUTE["conversation"]
    answers = [ask(agent, sender, "fi", f"BP-2026-96{n:04d}") for n in range(per + 1)]
    assert all(WAIT["fi"] not in a for a in answers[:per])
    assert WAIT["fi"] in answers[per]


def test_dialogue_status_lookups_are_limited_per_email_and_per_reference(agent):
    """Before: with a known e-mail address, references could be tried from new
    conversations without end (and e-mail addresses for a known reference)."""
    reference, email = submitted(agent, "status-limit-owner", "fi", "limits@kahvila.example.fi")
    for n in range(STATUS_LOOKUPS_PER_MINUTE["email"]):  # references guessed for the e-mail
        assert WAIT["fi"] not in ask(agent, f"status-guess-ref-{n}", "fi",
                                     f"BP-2026-95{n:04d}", email)
    right = ask(agent, "status-guess-ref-last", "fi", reference, email)
    assert WAIT["fi"] in right and reference not in right, "limited, even when right"
    other, other_email = submitted(agent, "status-limit-owner-2", "fi",
                                   "limits-2@kahvila.example.fi")
    for n in range(STATUS_LOOKUPS_PER_MINUTE["reference"]):  # e-mails guessed for it
        assert WAIT["fi"] not in ask(agent, f"status-guess-email-{n}", "fi", other,
                                     f"guess{n}@example.fi")
    right = ask(agent, "status-guess-email-last", "fi", other, f"{other_email} ")
    assert WAIT["fi"] in right and other not in right
