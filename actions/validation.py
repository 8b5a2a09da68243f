"""Validation of the enquiry form's answers (rasa-sdk FormValidationAction)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.enquiry import contact_email, language_of, unit_of
from bot.nlu.validators import (
    BUSINESS_ID,
    EMAIL,
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
MAX_NAME_CHARS = 100
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


class ValidateEnquiryForm(FormValidationAction):
    """Checks each answer; a rejected answer is asked again with a hint."""

    def name(self) -> str:
        """Action name."""
        return "validate_enquiry_form"

    def validate_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> dict[str, Any]:
        """A person's name: words, no question, not a whole sentence."""
        text = _plain(value)
        if _asked_back(text, dispatcher):
            return {"name": None}
        words = _WORDS.findall(text)
        if not words or len(words) > 6 or len(text) > MAX_NAME_CHARS or any(
                ch.isdigit() for ch in text):
            dispatcher.utter_message(response="utter_invalid_name")
            return {"name": None}
        return {"name": text}

    def validate_company(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> dict[str, Any]:
        """The company name, or "-" when there is none yet."""
        text = _plain(value)
        if _asked_back(text, dispatcher):
            return {"company": None}
        if _no_value(text) or not text:
            return {"company": "-"}
        return {"company": text[:MAX_COMPANY_CHARS]}

    def validate_business_id(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """A Finnish business ID with a valid check digit, or "-" for none."""
        text = _plain(value)
        if _no_value(text):
            return {"business_id": "-"}
        found = BUSINESS_ID.search(text)
        candidate = found.group(0) if found else text
        if found and business_id_is_valid(candidate):
            return {"business_id": normalise_business_id(candidate)}
        dispatcher.utter_message(response="utter_invalid_business_id", value=text[:40])
        return {"business_id": None}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """An e-mail address or a Finnish phone number."""
        text = _plain(value)
        email = EMAIL.search(text)
        if email:
            return {"contact": email.group(0)}
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

    def validate_consent(self, value: Any, dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """Consent given: go on. Refused: say where to turn, and end the form."""
        if value is True:
            return {"consent": True}
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        dispatcher.utter_message(response="utter_consent_refused", contact_email=contact_email(
            unit, tracker.get_slot("enquiry_intent"), lang))
        return {"consent": False, "requested_slot": None}
