"""Questions about the matter: hours, contact, cost, time, how to apply, status, language."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    OPEN,
    SUBMITTED,
    all_matters,
    contact_for,
    language_of,
    latest_words,
    matter_events,
    restate_offer,
    table,
    unit_of,
)
from bot import runtime
from bot.nlu.validators import EMAIL
from bot.notify.messages import status_name
from bot.routing.hours import describe_hours, now_in, open_now_text
from bot.store.enquiries import REFERENCE_PATTERN, provable_status, status_lookup_wait

# Which facts of routing/facts.yml answer which question.
FACT_KINDS = {
    "ask_cost": ["fees"],
    "ask_processing_time": ["processing_time"],
    "ask_where_to_apply": ["where_to_apply", "application_period", "attachments"],
}
# The questions answer_question answers.
ANSWERED_QUESTIONS = {"ask_opening_hours", "ask_contact", *FACT_KINDS}
_REFERENCE = re.compile(REFERENCE_PATTERN, re.IGNORECASE)


class ActionAnswerFollowup(Action):
    """Answer a question about the matter from routing/units.yml and routing/facts.yml.

    A question with no fact is added to the open matter's text, so that staff see it.
    """

    def name(self) -> str:
        """Action name."""
        return "action_answer_followup"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Answer, then restate the pending offer in one line."""
        matters = all_matters(tracker)
        changed = answer_question(dispatcher, tracker.get_intent_of_latest_message(),
                                  _current_matter(matters), language_of(tracker),
                                  latest_words(tracker))
        restate_offer(dispatcher, tracker)
        return matter_events(matters) if changed else []


def _current_matter(matters: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The open matter, else the one sent last, else None."""
    opened = [m for m in matters if m.get("state") == OPEN]
    if opened:
        return opened[0]
    sent = [m for m in matters if m.get("state") == SUBMITTED]
    return sent[-1] if sent else None


def answer_question(dispatcher: CollectingDispatcher, intent: str | None,
                    matter: dict[str, Any] | None, lang: str, question: str) -> bool:
    """Answer a question about `matter` (its unit's hours or contact, or facts of its topic).

    Without a fact, the question is added to the open matter's text (changed in place) so
    that staff see it; returns whether it was.
    """
    unit = unit_of(matter["unit"] if matter else table().default_unit)
    if intent == "ask_opening_hours":
        now = now_in(table().timezone)
        dispatcher.utter_message(
            response="utter_hours", unit_name=unit.names.get(lang),
            hours=describe_hours(unit.opening_hours, lang, now),
            open_now=open_now_text(unit.opening_hours, lang, now))
        return False
    if intent == "ask_contact":
        contact = contact_for(unit, matter["intent"] if matter else None, lang)
        dispatcher.utter_message(
            response="utter_contact", unit_name=unit.names.get(lang),
            contact_title=contact.title_for(lang), contact_email=contact.email,
            phone=unit.phone, address=unit.address_for(lang), unit_url=unit.url_for(lang) or "")
        return False
    if matter is None:
        dispatcher.utter_message(response="utter_no_fact_no_matter")
        return False
    facts = [table().facts_for(matter.get("intent"), kind, lang)
             for kind in FACT_KINDS.get(intent or "", [])]
    found = [f for f in facts if f is not None]
    for fact in found:
        dispatcher.utter_message(response="utter_fact", fact=fact.text, source=fact.source)
    if found:
        return False
    if intent == "ask_processing_time":  # at least when the enquiry gets its answer
        dispatcher.utter_message(response="utter_response_time",
                                 response_days=unit.response_time_days)
    if matter.get("state") != OPEN:
        dispatcher.utter_message(response="utter_no_fact_after_submit",
                                 reference=matter.get("reference"))
        return False
    dispatcher.utter_message(response="utter_no_fact")
    if question and question not in matter["text"]:
        matter["text"] = f"{matter['text']}\n{question}".strip()
        return True
    return False


class ActionEnquiryStatus(Action):
    """The status of an enquiry whose reference the customer types, to whoever can prove it.

    Never a list of references, and nothing said about whether an enquiry or an e-mail
    address exists: proof is the enquiry made in this conversation, or its reference
    together with the e-mail address it was sent with. Lookups are limited per
    conversation, reference and e-mail address (bot/store/enquiries.py).
    """

    def name(self) -> str:
        """Action name."""
        return "action_enquiry_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Answer for the typed reference, or ask for one; then restate what was pending."""
        dispatcher.utter_message(**status_answer(tracker))
        restate_offer(dispatcher, tracker)
        return []


def status_answer(tracker: Tracker) -> dict[str, Any]:
    """The response (with its values) that answers the latest message's status question."""
    lang = language_of(tracker)
    text = str(tracker.latest_message.get("text") or "")
    given = next(tracker.get_latest_entity_values("reference"), None)
    match = _REFERENCE.search(str(given or "")) or _REFERENCE.search(text)
    if match is None:
        return {"response": "utter_status_ask_reference"}
    reference = match.group(0).upper()
    email = EMAIL.search(text)
    address = email.group(0) if email else None
    db = runtime.current().db
    if status_lookup_wait(db, tracker.sender_id, reference, address) is not None:
        return {"response": "utter_status_wait"}
    found = provable_status(db, reference, sender_id=tracker.sender_id, email=address)
    if found is None:
        return {"response": "utter_status_how_to_ask"}
    return {"response": "utter_status", "reference": reference,
            "status_name": status_name(found.status, lang),
            "unit_name": unit_of(found.unit).names.get(lang)}


class ActionSwitchLanguage(Action):
    """Go on in the language asked for (the slot is already set from the message)."""

    def name(self) -> str:
        """Action name."""
        return "action_switch_language"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Confirm in the new language and restate what was pending.

        A reply language that followed the conversation's language follows it on; a summary
        shown before is shown again, so that what is sent is what the customer saw.
        """
        dispatcher.utter_message(response="utter_language_switched")
        events: list[EventType] = []
        reply = tracker.get_slot("reply_language")
        if reply is not None and reply != language_of(tracker):
            events.append(SlotSet("reply_language", language_of(tracker)))
        if tracker.get_slot("summary_pending") and not tracker.active_loop.get("name"):
            return [*events, FollowupAction("action_show_summary")]
        restate_offer(dispatcher, tracker)
        return events
