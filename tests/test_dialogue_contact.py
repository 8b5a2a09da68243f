"""Whole conversations through the agent: a business ID typed as the contact detail."""

import asyncio

import pytest
from sqlalchemy import select

from bot.store.models import Enquiry

NEED = {"fi": "Haluaisin hakea terassilupaa kahvilalle kesäksi",
        "sv": "Jag vill söka tillstånd för en uteservering till vårt kafé i sommar",
        "en": "I'd like to apply for a terrace permit for our cafe this summer"}
YES = {"fi": "kyllä", "sv": "ja", "en": "yes"}
NAME = {"fi": "Maija Meikäläinen", "sv": "Anna Andersson", "en": "Alex Smith"}
EMAIL = {"fi": "maija@kahvila.example.fi", "sv": "anna@kafe.example.fi",
         "en": "alex@cafe.example.fi"}
# What the bot says about a business ID typed as the contact.
LOOKS_LIKE = {"fi": "Y-tunnukselta", "sv": "FO-nummer", "en": "business ID"}
ASKS_CONTACT = {"fi": "sähköpostiosoitteella", "sv": "e-postadress", "en": "e-mail address"}


def say(agent, sender, *texts):
    replies = []
    for text in texts:
        replies = asyncio.run(agent.handle_message(sender, text))
    return " ".join(r.get("text") or "" for r in replies)


def stored(agent, sender):
    with agent.store.db.session() as session:
        return list(session.scalars(select(Enquiry).where(Enquiry.sender_id == sender)))


# (language, the company answer, the contact answer, the business ID kept)
CASES = [
    # No business ID with the company: the one typed as the contact is taken as it.
    ("fi", "Kahvila Kantele Oy", "2890123-0", "2890123-0"),
    ("sv", "Kafé Kantele Ab", "2890123-0", "2890123-0"),
    ("en", "Cafe Kantele Ltd", "2890123-0", "2890123-0"),
    # One given with the company: the one typed last is kept (as anywhere in the form).
    ("fi", "Kahvila Kantele Oy 3416721-2", "y-tunnus 2890123-0", "2890123-0"),
    ("sv", "Kafé Kantele Ab 3416721-2", "FO-nummer: 2890123-0", "2890123-0"),
    ("en", "Cafe Kantele Ltd, 3416721-2", "2890123-0.", "2890123-0"),
    # The shape of one with a wrong check digit is no phone number either.
    ("sv", "Kafé Kantele Ab", "1234567-8", None),
    ("en", "Cafe Kantele Ltd", "1234567-8", None),
]


@pytest.mark.parametrize("lang,company,typed,business_id", CASES)
def test_dialogue_contact_business_id_is_no_phone_and_the_e_mail_is_kept(
        agent, lang, company, typed, business_id):
    sender = f"contact-bid-{lang}-{company}-{typed}"
    say(agent, sender, NEED[lang], YES[lang], NAME[lang], company)
    replied = say(agent, sender, typed)
    tracker = agent.tracker(sender)
    assert tracker.get_slot("contact") is None, "a business ID is not taken as a phone"
    assert LOOKS_LIKE[lang] in replied and ASKS_CONTACT[lang] in replied, replied
    summary = say(agent, sender, EMAIL[lang])
    tracker = agent.tracker(sender)
    assert tracker.get_slot("contact") == EMAIL[lang], "the e-mail given next is kept"
    assert EMAIL[lang] in summary
    say(agent, sender, "/affirm")
    [enquiry] = stored(agent, sender)
    assert enquiry.customer_email == EMAIL[lang] and enquiry.customer_phone is None
    assert enquiry.business_id == business_id


@pytest.mark.parametrize("lang,typed,phone", [
    ("fi", "040 123 4567", "+358401234567"), ("sv", "040-1234567", "+358401234567"),
    ("en", "+358 40 123 4567", "+358401234567"), ("fi", "019 520 0000", "+358195200000")])
def test_dialogue_contact_phone_numbers_stay_phone_numbers(agent, lang, typed, phone):
    sender = f"contact-phone-{lang}-{typed}"
    say(agent, sender, NEED[lang], YES[lang], NAME[lang], "Oy Ab", typed)
    assert agent.tracker(sender).get_slot("contact") == phone
