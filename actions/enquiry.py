"""Custom actions of the enquiry conversation (rasa-sdk API, run in-process or remotely)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import runtime
from bot.nlu.validators import EMAIL, normalise_phone
from bot.routing.hours import format_opening, next_opening, now_in
from bot.routing.schema import Unit
from bot.store.enquiries import NewEnquiry, Notification, create_enquiry
from bot.store.models import Enquiry

DEFAULT_UNIT = "business-services"
UNCLASSIFIED = "unclassified"
FORM_SLOTS = ["name", "company", "business_id", "contact", "reply_language", "consent"]
ENQUIRY_SLOTS = ["unit", "enquiry_intent", "enquiry_text", "offer_pending", "field",
                 *FORM_SLOTS]
MAX_WORDS_CHARS = 2000
# A clarifying question is only useful when some unit is at least this likely.
MIN_CANDIDATE_CONFIDENCE = 0.08
MAX_CLARIFY_TRIES = 2


def language_of(tracker: Tracker) -> str:
    """The conversation's language slot (fi, sv or en)."""
    value = tracker.get_slot("language")
    return value if value in ("fi", "sv", "en") else "fi"


def unit_of(unit_id: str | None) -> Unit:
    """The unit from the routing table (business services when unknown)."""
    table = runtime.current().routing
    return table.units.get(unit_id or DEFAULT_UNIT) or table.units[DEFAULT_UNIT]


def contact_email(unit: Unit, intent: str | None, language: str) -> str:
    """The role address that receives this kind of enquiry."""
    table = runtime.current().routing
    found = table.unit_for(intent) if intent else None
    if found is not None and found[0] == unit.id:
        return found[1].email
    return table.contact(unit.id, language=language).email


def customer_words(tracker: Tracker) -> str:
    """The customer's own words since the last routing: free text, no button payloads."""
    words: list[str] = []
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "action" and event.get("name") in ("action_submit_enquiry",
                                                       "action_stop_enquiry"):
            break
        if kind == "session_started":
            break
        if kind == "user":
            text = str(event.get("text") or "").strip()
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if text and not text.startswith("/") and intent not in (
                    "greet", "affirm", "deny", "thanks", "goodbye", "human_handoff"):
                words.append(text)
        if len(words) >= 3:
            break
    return "\n".join(reversed(words))[:MAX_WORDS_CHARS]


class ActionRouteEnquiry(Action):
    """Say which unit handles the enquiry, answer briefly, offer to forward it."""

    def name(self) -> str:
        """Action name."""
        return "action_route_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Route by the latest intent (or the decision the NLU made for it)."""
        lang = language_of(tracker)
        intent = tracker.get_intent_of_latest_message()
        routing = tracker.latest_message.get("routing") or {}
        table = runtime.current().routing
        found = table.unit_for(intent) if intent else None
        unit = unit_of(routing.get("unit") or (found[0] if found else None))
        words = customer_words(tracker) or str(tracker.latest_message.get("text") or "")
        email = contact_email(unit, intent, lang)
        name = unit.names.get(lang)
        events: list[EventType] = [SlotSet("unit", unit.id), SlotSet("enquiry_intent", intent),
                                   SlotSet("enquiry_text", words), SlotSet("clarify_tries", 0)]
        if unit.id == "customer-service":
            dispatcher.utter_message(response="utter_answer_city_services")
            dispatcher.utter_message(response="utter_customer_service", contact_email=email,
                                     unit_url=unit.url or "")
            return [*events, SlotSet("offer_pending", False)]
        dispatcher.utter_message(response="utter_routed", unit_name=name)
        if intent and f"utter_answer_{intent}" in domain.get("responses", {}):
            dispatcher.utter_message(response=f"utter_answer_{intent}")
        if unit.url:
            dispatcher.utter_message(response="utter_more_info", unit_url=unit.url)
        if unit.referral:
            dispatcher.utter_message(response="utter_referral", unit_name=name,
                                     contact_email=email)
            return [*events, SlotSet("offer_pending", False)]
        dispatcher.utter_message(response="utter_offer_forward", unit_name=name,
                                 response_days=unit.response_time_days)
        return [*events, SlotSet("offer_pending", True)]


class ActionClarify(Action):
    """Ask which of the likely units is meant; after two tries, go to business services."""

    def name(self) -> str:
        """Action name."""
        return "action_clarify"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Offer the top candidates as buttons, plus "something else"."""
        lang = language_of(tracker)
        tries = int(tracker.get_slot("clarify_tries") or 0) + 1
        routing = tracker.latest_message.get("routing") or {}
        candidates = [c for c in routing.get("candidates") or []
                      if float(c.get("confidence") or 0) >= MIN_CANDIDATE_CONFIDENCE]
        if tries >= MAX_CLARIFY_TRIES:
            unit = unit_of(DEFAULT_UNIT)
            dispatcher.utter_message(response="utter_unclassified")
            dispatcher.utter_message(response="utter_offer_forward",
                                     unit_name=unit.names.get(lang),
                                     response_days=unit.response_time_days)
            return [SlotSet("clarify_tries", 0), SlotSet("unit", unit.id),
                    SlotSet("enquiry_intent", UNCLASSIFIED),
                    SlotSet("enquiry_text", customer_words(tracker)),
                    SlotSet("offer_pending", True)]
        if not candidates:
            dispatcher.utter_message(response="utter_default")
            return [SlotSet("clarify_tries", tries)]
        table = runtime.current().routing
        buttons = [{"title": table.units[c["unit"]].names.get(lang),
                    "payload": f"/{c['intent']}"} for c in candidates[:3]]
        other = {"fi": "Jotakin muuta", "sv": "Något annat", "en": "Something else"}[lang]
        buttons.append({"title": other, "payload": "/something_else"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return [SlotSet("clarify_tries", tries)]


class ActionHandoff(Action):
    """The customer wants a person: forward the enquiry to the unit (or business services)."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Explain, then offer to forward."""
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        dispatcher.utter_message(response="utter_handoff")
        dispatcher.utter_message(response="utter_offer_forward", unit_name=unit.names.get(lang),
                                 response_days=unit.response_time_days)
        return [SlotSet("unit", unit.id),
                SlotSet("enquiry_intent", tracker.get_slot("enquiry_intent") or "human_handoff"),
                SlotSet("enquiry_text", tracker.get_slot("enquiry_text")
                        or customer_words(tracker)),
                SlotSet("offer_pending", True)]


class ActionDeclineOffer(Action):
    """The customer does not want the enquiry forwarded: give the direct contact."""

    def name(self) -> str:
        """Action name."""
        return "action_decline_offer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Say where to turn instead; forget the offer."""
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        dispatcher.utter_message(response="utter_decline_offer", contact_email=contact_email(
            unit, tracker.get_slot("enquiry_intent"), lang))
        return [SlotSet("offer_pending", False)]


def _language_name(code: str | None, lang: str) -> str:
    from bot.notify.messages import LANGUAGE_NAMES

    return LANGUAGE_NAMES[lang].get(code or "", code or "-")


class ActionShowSummary(Action):
    """Show what will be sent, to confirm or correct."""

    def name(self) -> str:
        """Action name."""
        return "action_show_summary"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """The summary with Send / Correct / Cancel buttons."""
        if tracker.get_slot("consent") is not True:
            return [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("offer_pending", False)]
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        text = str(tracker.get_slot("enquiry_text") or "")
        dispatcher.utter_message(
            response="utter_summary", name=tracker.get_slot("name"),
            company=tracker.get_slot("company"), business_id=tracker.get_slot("business_id"),
            contact=tracker.get_slot("contact"),
            reply_language_name=_language_name(tracker.get_slot("reply_language"), lang),
            enquiry_text=text if len(text) <= 300 else text[:297] + "...",
            unit_name=unit.names.get(lang))
        return []


def _transcript(tracker: Tracker) -> list[dict[str, Any]]:
    turns = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            turns.append({"from": "customer" if event["event"] == "user" else "bot",
                          "text": str(event["text"])[:MAX_WORDS_CHARS]})
    return turns


class ActionSubmitEnquiry(Action):
    """Store the enquiry, queue its delivery, give the customer a reference."""

    def name(self) -> str:
        """Action name."""
        return "action_submit_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Create the enquiry and its notifications in one transaction."""
        rt = runtime.current()
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        intent = tracker.get_slot("enquiry_intent")
        contact = str(tracker.get_slot("contact") or "")
        email = EMAIL.search(contact)
        routed = tracker.latest_message.get("routing") or {}
        business_id = tracker.get_slot("business_id")
        company = tracker.get_slot("company")
        new = NewEnquiry(
            sender_id=tracker.sender_id, language=lang,
            reply_language=tracker.get_slot("reply_language") or lang,
            intent=intent, confidence=routed.get("confidence"), unit=unit.id,
            unit_contact=contact_email(unit, intent, lang),
            customer_name=str(tracker.get_slot("name") or ""),
            company=None if company in (None, "-") else company,
            business_id=None if business_id in (None, "-") else business_id,
            customer_email=email.group(0).lower() if email else None,
            customer_phone=None if email else normalise_phone(contact),
            notice_version=rt.settings.privacy_notice_version,
            customer_text=str(tracker.get_slot("enquiry_text") or ""),
            transcript=_transcript(tracker))

        def notifications(enquiry: Enquiry) -> list[Notification]:
            from bot.notify.messages import email_text, webhook_payload

            contact_languages = rt.routing.contact(unit.id, language=lang).languages
            subject, body = email_text(
                enquiry, {code: unit.names.get(code) for code in ("fi", "sv", "en")},
                "fi" if "fi" in contact_languages else contact_languages[0])
            out = [Notification("email", enquiry.unit_contact, subject, body)]
            if unit.webhook_url:
                out.append(Notification("webhook", unit.webhook_url, None,
                                        webhook_payload(enquiry)))
            return out

        try:
            _, reference = create_enquiry(rt.db, new, render=notifications)
        except Exception:  # noqa: BLE001 - the customer gets a clear answer, logs the cause
            import logging

            logging.getLogger(__name__).exception("Storing an enquiry failed")
            dispatcher.utter_message(response="utter_action_failed")
            return []
        dispatcher.utter_message(response="utter_submitted", unit_name=unit.names.get(lang),
                                 reference=reference, response_days=unit.response_time_days)
        opens = next_opening(unit.opening_hours, now_in(rt.routing.timezone))
        if opens is not None:
            dispatcher.utter_message(response="utter_out_of_hours",
                                     unit_name=unit.names.get(lang),
                                     next_open=format_opening(opens, lang))
        return [SlotSet("reference", reference)] + [SlotSet(s, None) for s in ENQUIRY_SLOTS] + [
            SlotSet("offer_pending", False)]


class ActionCorrectEnquiry(Action):
    """Change one detail: ask which, then let the form ask for it again."""

    def name(self) -> str:
        """Action name."""
        return "action_correct_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Clear the chosen slot and return to the form."""
        field = tracker.get_slot("field") or next(tracker.get_latest_entity_values("field"), None)
        if field not in FORM_SLOTS or field == "consent":
            dispatcher.utter_message(response="utter_ask_correct_field")
            return [SlotSet("field", None)]
        return [SlotSet(field, None), SlotSet("field", None), FollowupAction("enquiry_form")]


class ActionStopEnquiry(Action):
    """Stop: nothing is sent, the collected details are forgotten."""

    def name(self) -> str:
        """Action name."""
        return "action_stop_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Say so and clear the enquiry slots."""
        dispatcher.utter_message(response="utter_form_stopped")
        events: list[EventType] = [SlotSet(s, None) for s in ENQUIRY_SLOTS]
        if tracker.active_loop.get("name"):
            events.insert(0, ActiveLoop(None))
        return [*events, SlotSet("offer_pending", False), SlotSet("requested_slot", None)]
