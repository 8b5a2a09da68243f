"""Whole turns through the agent: matters, facts, status, complaints, copies, fallbacks."""

import asyncio

import pytest
from sqlalchemy import select

from bot.store.models import Enquiry, OutboxMessage

FORM = {
    "fi": ["Maija Meikäläinen", "Kahvila Kantele Oy 3416721-2", "maija@kahvila.example.fi"],
    "sv": ["Anna Andersson", "Kafé Kantele Ab 3416721-2", "anna@kafe.example.fi"],
    "en": ["Alex Smith", "Cafe Kantele Ltd 3416721-2", "alex@cafe.example.fi"],
}
TWO_NEEDS = {
    "fi": "Haemme rakennuslupaa uudelle hallille ja lisäksi tarvitsemme ympäristöluvan "
          "maalaamolle.",
    "sv": "Vi söker bygglov för en ny hall. Vi behöver dessutom ett miljötillstånd för "
          "vår lackering.",
    "en": "We need a building permit for a new hall and also an environmental permit for "
          "the paint shop.",
}
TERRACE = {"fi": "Haluaisin hakea terassilupaa kahvilalle kesäksi",
           "sv": "Jag vill söka tillstånd för en uteservering till vårt kafé i sommar",
           "en": "I'd like to apply for a terrace permit for our cafe this summer"}
COST = {"fi": "paljonko terassilupa maksaa?", "sv": "vad kostar ett terrasstillstånd?",
        "en": "how much does the terrace permit cost?"}
LANGUAGES = ["fi", "sv", "en"]


def say(agent, sender, *texts):
    replies = []
    for text in texts:
        replies = asyncio.run(agent.handle_message(sender, text))
    return replies


def texts_of(replies):
    return " ".join(r.get("text") or "" for r in replies)


def enquiries_of(agent, sender):
    with agent.store.db.session() as session:
        return list(session.scalars(select(Enquiry).where(Enquiry.sender_id == sender)
                                    .order_by(Enquiry.id)))


def outbox_of(agent, enquiry_id):
    with agent.store.db.session() as session:
        return list(session.scalars(select(OutboxMessage)
                                    .where(OutboxMessage.enquiry_id == enquiry_id)))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_two_needs_one_form_two_enquiries(agent, lang):
    sender = f"two-needs-{lang}"
    replies = say(agent, sender, TWO_NEEDS[lang])
    if any("/add_matter" in str(b.get("payload")) for r in replies
           for b in r.get("buttons") or []):
        say(agent, sender, '/add_matter{"forward": "yes"}')  # offered as a possible need
    else:
        say(agent, sender, "/affirm")
    say(agent, sender, *FORM[lang])
    replies = say(agent, sender, "/affirm")
    assert texts_of(replies).count("BP-") == 2
    found = enquiries_of(agent, sender)
    assert {e.unit for e in found} == {"building-control", "environment"}
    assert found[0].customer_text != found[1].customer_text, "each has its part of the text"
    assert {e.customer_email for e in found} == {FORM[lang][2]}
    assert {e.business_id for e in found} == {"3416721-2"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_customer_gets_a_copy_in_the_reply_language(agent, lang):
    sender = f"copy-{lang}"
    say(agent, sender, TERRACE[lang], "/affirm", *FORM[lang])
    replies = say(agent, sender, "/affirm")
    enquiry = enquiries_of(agent, sender)[0]
    assert enquiry.reply_language == lang and enquiry.company.startswith(FORM[lang][1][:5])
    assert FORM[lang][2] in texts_of(replies)
    mails = {m.recipient: m for m in outbox_of(agent, enquiry.id)}
    copy = mails[FORM[lang][2]]
    assert enquiry.reference in copy.subject and enquiry.reference in copy.body
    assert {"fi": "arkipäivän", "sv": "vardagar", "en": "working days"}[lang] in copy.body
    assert enquiry.unit_contact in mails, "the unit's own e-mail is queued too"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_second_need_reuses_the_details(agent, lang):
    sender = f"second-{lang}"
    say(agent, sender, TERRACE[lang], "/affirm", *FORM[lang], "/affirm")
    second = {"fi": "Meidän pitää myös palkata kaksi kokkia", "sv": "Vi behöver också "
              "anställa två kockar", "en": "We also need to hire two chefs"}[lang]
    say(agent, sender, second)
    replies = say(agent, sender, "/affirm")
    assert FORM[lang][0] in texts_of(replies), "straight to the summary with the details"
    say(agent, sender, "/affirm")
    found = enquiries_of(agent, sender)
    assert [e.unit for e in found] == ["streets", "employment"]
    assert found[0].customer_text == TERRACE[lang], "the first enquiry stays as it was"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_question_naming_the_topic_is_answered(agent, lang):
    sender = f"cost-{lang}"
    say(agent, sender, TERRACE[lang])
    replies = say(agent, sender, COST[lang])
    tracker = agent.tracker(sender)
    assert tracker.latest_intent == "ask_cost"
    assert "porvoo.fi" in texts_of(replies), "answered from facts.yml, with its source"
    assert replies[-1].get("buttons"), "the offer is restated with its buttons"
    assert tracker.get_slot("unit") == "streets"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_status_only_for_its_own_conversation(agent, lang):
    owner, other = f"status-owner-{lang}", f"status-other-{lang}"
    say(agent, owner, TERRACE[lang], "/affirm", *FORM[lang], "/affirm")
    reference = enquiries_of(agent, owner)[0].reference
    question = {"fi": f"Mikä on kyselyn {reference} tila?", "sv": f"Vad är status för "
                f"{reference}?", "en": f"What is the status of {reference}?"}[lang]
    mine = texts_of(say(agent, owner, question))
    assert reference in mine and {"fi": "vastaanotettu", "sv": "mottaget",
                                  "en": "received"}[lang] in mine
    strangers = texts_of(say(agent, other, question))
    assert reference not in strangers, "nothing about the enquiry is revealed"
    nobody = texts_of(say(agent, other, question.replace(reference, "BP-2026-999999")))
    assert strangers == nobody, "an existing and a missing reference read the same"
    with_email = texts_of(say(agent, other, f"{question} {FORM[lang][2]}"))
    assert reference in with_email


@pytest.mark.parametrize("lang,text", [
    ("fi", "Rakennuslupamme on odottanut kolme kuukautta, tämä on ihan naurettavaa!"),
    ("sv", "Vårt bygglov har väntat i tre månader, det här är helt oacceptabelt!"),
    ("en", "Our building permit has waited three months, this is ridiculous!")])
def test_dialogue_matters_complaint_goes_to_a_person_marked(agent, lang, text):
    sender = f"complaint-{lang}"
    replies = say(agent, sender, text)
    assert agent.tracker(sender).latest_intent == "complaint"
    assert {"fi": "pahoillani", "sv": "beklagar", "en": "sorry"}[lang] in texts_of(replies)
    say(agent, sender, "/affirm", *FORM[lang], "/affirm")
    enquiry = enquiries_of(agent, sender)[0]
    assert enquiry.intent == "complaint" and enquiry.unit == "business-services"
    staff = [m for m in outbox_of(agent, enquiry.id) if m.recipient == enquiry.unit_contact]
    from bot.notify.messages import COMPLAINT_LABELS

    assert COMPLAINT_LABELS[lang] in staff[0].subject


@pytest.mark.parametrize("lang,nonsense", [("fi", "qwerty asdf zxcv"),
                                           ("sv", "xyzzy plopp qwerty"),
                                           ("en", "zzz qqq xxx")])
def test_dialogue_matters_never_two_not_understood_in_a_row(agent, lang, nonsense):
    sender = f"fallback-{lang}"
    say(agent, sender, {"fi": "Hei", "sv": "Hej", "en": "Hello"}[lang])
    first = texts_of(say(agent, sender, nonsense))
    second = say(agent, sender, nonsense + " !")
    assert texts_of(second) != first
    assert second[-1].get("buttons"), "the second time, a person is offered"


@pytest.mark.parametrize("lang,answer", [("fi", "suomi"), ("sv", "hej"), ("en", "English")])
def test_dialogue_matters_a_language_or_greeting_is_not_a_name(agent, lang, answer):
    sender = f"name-{lang}-{answer}"
    say(agent, sender, TERRACE[lang], "/affirm", answer)
    assert agent.tracker(sender).get_slot("name") is None


@pytest.mark.parametrize("text,lang", [("Terrasstillstånd", "sv"), ("Terassilupa", "fi")])
def test_dialogue_matters_the_first_message_sets_the_language(agent, text, lang):
    sender = f"first-{text}"
    say(agent, sender, text)
    assert agent.tracker(sender).get_slot("language") == lang


def _to_summary(agent, sender, lang):
    return say(agent, sender, TERRACE[lang], "/affirm", *FORM[lang])


@pytest.mark.parametrize("lang,refusal", [
    ("fi", "älkää lähettäkö"), ("fi", "elä lähetä"), ("fi", "ei kiitos, älä lähetä"),
    ("sv", "skippa det"), ("sv", "nej skicka int"), ("en", "no dont send")])
def test_dialogue_matters_a_refusal_at_the_summary_never_sends(agent, lang, refusal):
    sender = f"refuse-{lang}-{refusal}"
    _to_summary(agent, sender, lang)
    replies = say(agent, sender, refusal)
    assert not enquiries_of(agent, sender)
    assert "BP-" not in texts_of(replies)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dialogue_matters_no_at_the_summary_asks_cancel_or_correct(agent, lang):
    sender = f"no-summary-{lang}"
    _to_summary(agent, sender, lang)
    replies = say(agent, sender, "/deny")
    assert {b["payload"] for b in replies[-1]["buttons"]} == {"/stop", "/correct"}
    say(agent, sender, "/stop")
    assert not enquiries_of(agent, sender) and not agent.tracker(sender).get_slot("matters")


@pytest.mark.parametrize("lang,yes", [("fi", "joo molemmat"), ("sv", "ja"), ("en", "yes")])
def test_dialogue_matters_a_new_need_at_the_summary_is_asked_not_sent(agent, lang, yes):
    sender = f"new-at-summary-{lang}"
    _to_summary(agent, sender, lang)
    new = {"fi": "Tarvitsemme lisäksi ympäristöluvan maalaamolle",
           "sv": "Vi behöver också ett miljötillstånd för lackeringen",
           "en": "We also need an environmental permit for the paint shop"}[lang]
    say(agent, sender, new)
    replies = say(agent, sender, yes)
    assert not enquiries_of(agent, sender), "a yes to 'both?' does not send"
    assert FORM[lang][0] in texts_of(replies), "the summary again, with both matters"
    say(agent, sender, "/affirm")
    assert {e.unit for e in enquiries_of(agent, sender)} == {"streets", "environment"}


def test_dialogue_matters_a_status_e_mail_is_not_this_enquirys_contact(agent):
    sender = "prefill-status"
    say(agent, sender, "Mikä on kyselyn BP-2026-000001 tila? sähköpostini on "
                       "toinen@kahvila.example.fi")
    replies = say(agent, sender, TERRACE["fi"], "/affirm", "Pekka Virtanen", "ei yritystä")
    assert "sähköpostiosoitteella" in texts_of(replies), "the contact is asked"


@pytest.mark.parametrize("answer", ["ei oo vielä yritystä", "inget företag än",
                                    "no company yet"])
def test_dialogue_matters_no_company_yet_is_no_company(agent, answer):
    sender = f"no-company-{answer}"
    say(agent, sender, TERRACE["fi"], "/affirm", "Pekka Virtanen", answer)
    assert agent.tracker(sender).get_slot("company") == "-"


def test_dialogue_matters_a_wrong_business_id_is_no_trap(agent):
    sender = "bid-trap"
    say(agent, sender, TERRACE["fi"], "/affirm", "Pekka Virtanen", "Kahvila Oy 1234567-8")
    replies = say(agent, sender, "joo")
    tracker = agent.tracker(sender)
    assert tracker.get_slot("business_id") == "-" and tracker.get_slot("company") == "Kahvila Oy"
    assert "sähköpostiosoitteella" in texts_of(replies)


@pytest.mark.parametrize("payload", ['/switch_language{"language": ["fi"]}',
                                     '/switch_language{"language": "de"}'])
def test_dialogue_matters_odd_language_payloads_change_nothing(agent, payload):
    sender = f"odd-{payload}"
    say(agent, sender, "Hej")
    assert say(agent, sender, payload)
    assert agent.tracker(sender).get_slot("language") == "sv"
    assert say(agent, sender, "hej")


def test_dialogue_matters_identity_codes_are_masked_in_the_enquiry(agent):
    sender = "hetu"
    say(agent, sender, "Haluaisin hakea terassilupaa kahvilalle, henkilötunnukseni on "
                       "131052-308T", "/affirm", *FORM["fi"], "/affirm")
    enquiry = enquiries_of(agent, sender)[0]
    assert "131052-308T" not in enquiry.customer_text
    copy = [m for m in outbox_of(agent, enquiry.id) if m.recipient == FORM["fi"][2]][0]
    assert "terassilupaa" not in copy.body, "the copy carries no free text"


def test_dialogue_matters_erase_by_reference_takes_the_whole_submission(agent):
    from bot.store.privacy import erase

    sender = "erase-two"
    say(agent, sender, TWO_NEEDS["fi"])
    say(agent, sender, '/add_matter{"forward": "yes"}')  # if offered; else the next is yes
    if agent.tracker(sender).active_loop is None:
        say(agent, sender, "/affirm")
    say(agent, sender, *FORM["fi"], "/affirm")
    found = enquiries_of(agent, sender)
    assert len(found) == 2
    erase(agent.store.db, reference=found[0].reference)
    assert not enquiries_of(agent, sender)
