"""The summary, sending (one enquiry per matter), correcting and stopping."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    FORM,
    SUBMITTED,
    all_matters,
    contact_for,
    form_slots,
    language_of,
    matter_events,
    matter_lines,
    open_matters,
    table,
    unit_of,
)
from bot import runtime
from bot.logs import personal_values
from bot.notify.messages import LANGUAGE_NAMES, enquiry_notifications
from bot.routing.hours import format_opening, next_opening, now_in
from bot.store.enquiries import CustomerDetails, submit_matters

logger = logging.getLogger(__name__)
MAX_SUMMARY_WORDS_CHARS = 300


def _details(tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in form_slots(domain)}


def _form_reset(domain: DomainDict) -> list[EventType]:
    return [SlotSet(slot, None) for slot in form_slots(domain)]


class ActionShowSummary(Action):
    """Show what will be sent, with the privacy notice: sending is the consent."""

    def name(self) -> str:
        """Action name."""
        return "action_show_summary"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """The summary with Send / Correct / Cancel buttons."""
        lang = language_of(tracker)
        matters = all_matters(tracker)
        opened = open_matters(matters)
        if not opened:  # nothing left to send (stopped meanwhile)
            return [SlotSet("summary_pending", False), *_form_reset(domain)]
        pending = tracker.get_slot("pending_matter") or []
        if pending:  # a need raised during the form: both, or only the new one? (then this)
            dispatcher.utter_message(
                response="utter_ask_add_or_replace",
                unit_name=", ".join(str(unit_of(m["unit"]).names.get(lang)) for m in opened),
                new_unit_name=", ".join(str(unit_of(m["unit"]).names.get(lang))
                                        for m in pending))
            return [SlotSet("summary_pending", False), SlotSet("offer_pending", False)]
        for m in opened:
            if len(m["text"]) > MAX_SUMMARY_WORDS_CHARS:
                m["text"] = m["text"][:MAX_SUMMARY_WORDS_CHARS - 3] + "..."
        code = tracker.get_slot("reply_language") or lang
        dispatcher.utter_message(
            response="utter_summary", name=tracker.get_slot("name"),
            company=tracker.get_slot("company"), business_id=tracker.get_slot("business_id"),
            contact=tracker.get_slot("contact"),
            reply_language_name=LANGUAGE_NAMES[lang].get(code, code),
            matter_lines=matter_lines(opened, lang))
        return [SlotSet("summary_pending", True), SlotSet("offer_pending", False)]


class ActionSubmitEnquiry(Action):
    """Store one enquiry per open matter, queue deliveries, give the references."""

    def name(self) -> str:
        """Action name."""
        return "action_submit_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Create the enquiries and their notifications in one transaction."""
        rt = runtime.current()
        lang = language_of(tracker)
        matters = all_matters(tracker)
        opened = open_matters(matters)
        if not opened:
            return [SlotSet("summary_pending", False)]
        details = _details(tracker, domain)
        customer = CustomerDetails.from_slots(details, language=lang,
                                              notice_version=rt.settings.privacy_notice_version)
        routed = tracker.latest_message.get("routing") or {}
        parts = [(m, contact_for(unit_of(m["unit"]), m.get("intent"), lang).email)
                 for m in opened]
        # Whatever is logged while storing (a failed statement, a traceback) names neither
        # the customer nor the company.
        with personal_values(customer.name, customer.company):
            try:
                references = submit_matters(
                    rt.db, tracker.sender_id, customer, parts, list(tracker.events),
                    confidence=routed.get("confidence"),
                    render=lambda enquiry: enquiry_notifications(enquiry, rt.routing))
            except Exception:  # noqa: BLE001 - the customer gets a clear answer; the log why
                logger.exception("Storing an enquiry failed")
                dispatcher.utter_message(response="utter_action_failed")
                return []
        dispatcher.utter_message(response="utter_submitted")
        for matter, reference in zip(opened, references, strict=True):
            matter["state"], matter["reference"] = SUBMITTED, reference
            unit = unit_of(matter["unit"])
            dispatcher.utter_message(response="utter_submitted_line", reference=reference,
                                     unit_name=unit.names.get(lang),
                                     response_days=unit.response_time_days)
        if customer.email:
            dispatcher.utter_message(response="utter_copy_sent", email=customer.email)
        self._out_of_hours(dispatcher, opened, lang)
        return [SlotSet("reference", references[0]), *matter_events(matters),
                SlotSet("contact_details", details), *_form_reset(domain),
                SlotSet("offer_pending", False), SlotSet("summary_pending", False),
                SlotSet("pending_matter", None), SlotSet("possible_matter", None)]

    @staticmethod
    def _out_of_hours(dispatcher: CollectingDispatcher, opened: list[dict[str, Any]],
                      lang: str) -> None:
        for unit_id in dict.fromkeys(m["unit"] for m in opened):
            unit = unit_of(unit_id)
            opens = next_opening(unit.opening_hours, now_in(table().timezone))
            if opens is not None:
                dispatcher.utter_message(response="utter_out_of_hours",
                                         unit_name=unit.names.get(lang),
                                         next_open=format_opening(opens, lang))


class ActionCorrectEnquiry(Action):
    """Change one detail: ask which, then let the form ask for it again."""

    def name(self) -> str:
        """Action name."""
        return "action_correct_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Clear the chosen slot and return to the form."""
        field = tracker.get_slot("field") or next(tracker.get_latest_entity_values("field"), None)
        if field not in form_slots(domain):
            dispatcher.utter_message(response="utter_ask_correct_field")
            return [SlotSet("field", None)]
        # Asking for it (requested_slot) keeps the form from refilling the old value.
        return [SlotSet(field, None), SlotSet("field", None), SlotSet("summary_pending", False),
                SlotSet("requested_slot", field), FollowupAction(FORM)]


class ActionStopEnquiry(Action):
    """Stop: nothing is sent, the open matters and collected details are forgotten."""

    def name(self) -> str:
        """Action name."""
        return "action_stop_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Say so and clear the enquiry slots (enquiries already sent stay)."""
        dispatcher.utter_message(response="utter_form_stopped")
        kept = [m for m in all_matters(tracker) if m.get("state") == SUBMITTED]
        events: list[EventType] = [*matter_events(kept), *_form_reset(domain)]
        if tracker.active_loop.get("name"):
            events.insert(0, ActiveLoop(None))
        return [*events, SlotSet("offer_pending", False), SlotSet("summary_pending", False),
                SlotSet("pending_matter", None), SlotSet("possible_matter", None),
                SlotSet("requested_slot", None)]
