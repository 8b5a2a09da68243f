"""Validation of the enquiry form's answers (rasa-sdk FormValidationAction).

Details already given fill the form and are not asked again: those of an enquiry sent
earlier in the conversation (`contact_details`), an e-mail, phone or business ID the
customer wrote in an earlier message, and the conversation's language as reply language.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import FORM, language_of
from bot.nlu.validators import (
    BUSINESS_ID,
    EMAIL,
    business_id_in,
    business_id_is_valid,
    normalise_business_id,
    normalise_phone,
)

# Answers that mean "I have none / I'd rather not say".
NO_VALUE = {"ei", "ei ole", "ei yritystä", "ei vielä", "en halua", "en", "-", "nej",
            "inget", "inget företag", "har inte", "nej tack", "no", "none", "no company",
            "not yet", "n/a", "skip", "ohita", "hoppa över"}
LANGUAGE_WORDS = {
    "fi": {"fi", "suomi", "suomeksi", "finska", "på finska", "finnish", "in finnish"},
    "sv": {"sv", "ruotsi", "ruotsiksi", "svenska", "på svenska", "swedish", "in swedish"},
    "en": {"en", "englanti", "englanniksi", "engelska", "på engelska", "english",
           "in english"},
}
# Words that are an answer to something else, never a person's name.
NOT_A_NAME = {w for words in LANGUAGE_WORDS.values() for w in words} | {
    "hei", "moi", "moikka", "terve", "huomenta", "päivää", "hej", "hejsan", "tjena", "hallå",
    "god dag", "hello", "hi", "hey", "good morning", "kiitos", "tack", "thanks", "thank you",
    "kyllä", "joo", "ja", "yes", "ok", "okei", "okej", "no", "ei", "nej", "en", "anonyymi",
    "anonym", "anonymous", "nimetön", "test", "testi", "lähetä", "laheta", "skicka", "send",
    "peruuta", "avbryt", "cancel", "välitä", "förmedla", "forward"}
# Labels customers write before a business ID: "Y-tunnus 1234567-8".
_ID_LABEL = re.compile(r"\b(y-?tunnus|ytunnus|fo-?nummer|business id|reg(istration)? no)\b"
                       r"[:.]?", re.IGNORECASE)
# Where the details of the previous enquiry end, and messages whose details are not its.
ENQUIRY_ENDS = {"action_submit_enquiry", "action_stop_enquiry"}
NOT_DETAILS = {"ask_status"}
# "ei oo vielä yritystä", "inget företag än", "no company yet": no company (yet).
_NO_COMPANY = re.compile(
    r"\b(ei|eikä|ilman|inget|ingen|int|inte|utan|no|not|without)\b.*\b(yritys\w*|firma\w*|"
    r"företag\w*|bolag\w*|company|business|firm)\b", re.IGNORECASE)
MAX_NAME_CHARS = 100
MAX_NAME_WORDS = 6
MAX_COMPANY_CHARS = 200
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


def _plain(value: Any) -> str:
    return " ".join(str(value or "").split()).strip()


def _asked_back(text: str, dispatcher: CollectingDispatcher) -> bool:
    """A question instead of an answer: explain why we ask (the form then asks again)."""
    if "?" not in text:
        return False
    dispatcher.utter_message(response="utter_explain_in_form")
    return True


def _no_value(text: str) -> bool:
    return text.lower().strip(" .!") in NO_VALUE


def _earlier_entity(tracker: Tracker, entities: tuple[str, ...]) -> str | None:
    """The latest value of one of `entities` the customer wrote about this enquiry.

    Only since the last enquiry was sent or stopped ("forgotten" means forgotten), and
    never from a status question (the e-mail there proves an old enquiry, it is not this
    one's contact).
    """
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") in ENQUIRY_ENDS:
            return None
        if event.get("event") == "session_started":
            return None
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        if (parse.get("intent") or {}).get("name") in NOT_DETAILS:
            continue
        for entity in parse.get("entities") or []:
            if entity.get("entity") in entities and entity.get("value"):
                return str(entity["value"])
    return None


def _value_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest message's candidates were added."""
    seen_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_message = True
        elif seen_message and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def _given_before(tracker: Tracker, slot: str) -> Any:
    details = tracker.get_slot("contact_details") or {}
    return details.get(slot) if isinstance(details, dict) else None


def _business_id_as_contact(typed: str, dispatcher: CollectingDispatcher,
                            tracker: Tracker) -> dict[str, Any]:
    """A business ID typed as the contact: no phone number; the contact is asked again.

    Taken as the company's business ID when its check digit holds (as one typed anywhere
    in the form is, by the slot's entity mapping; the summary shows it).
    """
    if business_id_is_valid(typed):
        dispatcher.utter_message(response="utter_contact_is_business_id", value=typed)
        return {"contact": None, "business_id": normalise_business_id(typed)}
    dispatcher.utter_message(response="utter_contact_looks_like_business_id", value=typed)
    return {"contact": None}


class ValidateEnquiryForm(FormValidationAction):
    """Checks each answer; a rejected answer is asked again with a hint."""

    def name(self) -> str:
        """Action name."""
        return f"validate_{FORM}"

    # -- details given before fill the form ---------------------------------------------

    def _prefill(self, tracker: Tracker, slot: str, *, entities: tuple[str, ...] = ()
                 ) -> dict[str, Any]:
        if tracker.get_slot(slot) is not None or tracker.get_slot("requested_slot") == slot:
            return {}
        value = _given_before(tracker, slot)
        if value is None and entities:
            value = _earlier_entity(tracker, entities)
        return {slot: value} if value is not None else {}

    def extract_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: DomainDict) -> dict[str, Any]:
        """The name given for an earlier enquiry of this conversation."""
        return self._prefill(tracker, "name")

    def extract_company(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict) -> dict[str, Any]:
        """The company given for an earlier enquiry of this conversation."""
        return self._prefill(tracker, "company")

    def extract_business_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        """A business ID given before (an earlier enquiry, or any message)."""
        return self._prefill(tracker, "business_id", entities=("business_id",))

    def extract_contact(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict) -> dict[str, Any]:
        """An e-mail address or phone number given before."""
        return self._prefill(tracker, "contact", entities=("email", "phone"))

    def extract_reply_language(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        """The reply language defaults to the conversation's (changeable in the summary)."""
        found = self._prefill(tracker, "reply_language")
        if found or tracker.get_slot("reply_language") is not None or tracker.get_slot(
                "requested_slot") == "reply_language":
            return found
        return {"reply_language": language_of(tracker)}

    # -- answers ------------------------------------------------------------------------

    def validate_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> dict[str, Any]:
        """A person's name: words, no question, not a greeting or a language."""
        text = _plain(value).strip(" .!,")
        if _asked_back(text, dispatcher):
            return {"name": None}
        words = _WORDS.findall(text)
        if (not words or len(words) > MAX_NAME_WORDS or len(text) > MAX_NAME_CHARS
                or any(ch.isdigit() for ch in text) or "@" in text
                or text.lower() in NOT_A_NAME or len(text) < 2):
            dispatcher.utter_message(response="utter_invalid_name")
            return {"name": None}
        return {"name": text}

    def validate_company(self, value: Any, dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """The company's whole name ("-" for none); a business ID written with it is kept."""
        text = _plain(value)
        if _asked_back(text, dispatcher):
            return {"company": None}
        found = BUSINESS_ID.search(text)
        result: dict[str, Any] = {}
        if found:
            text = _ID_LABEL.sub(" ", text[:found.start()] + " " + text[found.end():])
            text = " ".join(text.split()).strip(" ,;:-()")
            if business_id_is_valid(found.group(0)):
                result["business_id"] = normalise_business_id(found.group(0))
            else:
                if "business_id" not in tracker.slots_to_validate():
                    # (read as an entity too, validate_business_id says it once)
                    dispatcher.utter_message(response="utter_invalid_business_id",
                                             value=found.group(0))
                result["business_id"] = None
        if _no_value(text) or not text or _NO_COMPANY.search(text):
            result["company"] = "-"
        else:
            result["company"] = text[:MAX_COMPANY_CHARS]
        if "business_id" not in result and tracker.get_slot("business_id") is None:
            # Asked together with the company: none given means none (changeable later).
            result["business_id"] = "-"
        return result

    def validate_business_id(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """A Finnish business ID with a valid check digit, or "-" for none."""
        text = _plain(value)
        if _no_value(text) or not any(ch.isdigit() for ch in text):
            # No number at all ("joo", an e-mail): none given; changeable in the summary.
            return {"business_id": "-"}
        found = BUSINESS_ID.search(text)
        candidate = found.group(0) if found else text
        if found and business_id_is_valid(candidate):
            return {"business_id": normalise_business_id(candidate)}
        if tracker.get_slot("requested_slot") == "contact" and business_id_in(
                _plain(tracker.latest_message.get("text"))):
            # A wrong one typed as the contact: validate_contact says so; what was given
            # before stays.
            return {"business_id": _value_before_latest_message(tracker, "business_id")}
        dispatcher.utter_message(response="utter_invalid_business_id", value=text[:40])
        return {"business_id": None}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """An e-mail address or a Finnish phone number."""
        text = _plain(value)
        email = EMAIL.search(text)
        if email:
            return {"contact": email.group(0)}
        typed_id = business_id_in(text)
        if typed_id is not None:
            return _business_id_as_contact(typed_id, dispatcher, tracker)
        phone = normalise_phone(text)
        if phone:
            return {"contact": phone}
        dispatcher.utter_message(response="utter_invalid_contact")
        return {"contact": None}

    def validate_reply_language(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """fi, sv or en, from a button or from words such as "svenska"."""
        text = _plain(value).lower().strip(" .!")
        for code, words in LANGUAGE_WORDS.items():
            if text in words:
                return {"reply_language": code}
        dispatcher.utter_message(response="utter_invalid_reply_language")
        return {"reply_language": None}
