"""Routing actions: name the unit, hold the matters, clarify, hand off, decline, complain."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    FORM,
    OPEN,
    all_matters,
    contact_for,
    customer_words,
    details_complete,
    language_of,
    latest_words,
    matter_events,
    matter_lines,
    new_matter,
    open_matters,
    response_buttons,
    response_text,
    restate_offer,
    table,
    unit_of,
)
from actions.followups import ANSWERED_QUESTIONS, answer_question

UNCLASSIFIED = "unclassified"
COMPLAINT = "complaint"
# A clarifying question is only useful when some unit is at least this likely.
MIN_CANDIDATE_CONFIDENCE = 0.08
MAX_CLARIFY_TRIES = 2
MAX_CLARIFY_BUTTONS = 3
# The entity of the "forward both" button: add the possible need and go on to the form.
FORWARD_ENTITY = "forward"


def _needs(tracker: Tracker, words: str
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The needs of the latest message, and the possible needs to offer besides them."""
    routing = tracker.latest_message.get("routing") or {}
    listed = [n for n in routing.get("units") or [] if n.get("unit") in table().units]
    sure = [n for n in listed if not n.get("possible")]
    if len(sure) > 1:
        needs = [{"unit": n["unit"], "intent": n.get("intent"),
                  "text": str(n.get("text") or words)} for n in sure]
    else:
        intent = tracker.get_intent_of_latest_message()
        found = table().unit_for(intent) if intent else None
        unit = routing.get("unit") or (found[0] if found else None)
        needs = [{"unit": unit_of(unit).id, "intent": intent, "text": words}]
    # A possible need is only offered for a unit this conversation has no matter with yet.
    units = {n["unit"] for n in needs} | {m["unit"] for m in all_matters(tracker)}
    possible = [{"unit": n["unit"], "intent": n.get("intent"), "text": str(n.get("text"))}
                for n in listed if n.get("possible") and n["unit"] not in units
                and not unit_of(n["unit"]).referral and not unit_of(n["unit"]).non_business]
    return needs, possible[:1]


def _offer(dispatcher: CollectingDispatcher, matters: list[dict[str, Any]],
           also: list[dict[str, Any]] | None = None, domain: DomainDict | None = None,
           lang: str = "fi") -> None:
    """Offer to forward the open matters; with `also`, a button to forward that one too."""
    opened = open_matters(matters)
    name = "utter_offer_forward_several" if len(opened) > 1 else "utter_offer_forward"
    buttons = None
    if also and domain is not None:
        buttons = [*response_buttons(domain, name, lang), {
            "title": response_text(domain, "utter_button_forward_both", lang),
            "payload": f'/add_matter{{"{FORWARD_ENTITY}": "yes"}}'}]
    dispatcher.utter_message(response=name, buttons=buttons,
                             response_days=unit_of(opened[0]["unit"]).response_time_days)


class ActionRouteEnquiry(Action):
    """Say which unit handles the need, answer briefly and offer to forward it.

    With a matter already open, the same unit's need is added to it (a short confirmation);
    another unit's need is held in `pending_matter` while the customer chooses between
    both and only the new one.
    """

    def name(self) -> str:
        """Action name."""
        return "action_route_enquiry"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Route the latest message's need(s) against the conversation's matters."""
        lang = language_of(tracker)
        matters = all_matters(tracker)
        opened = open_matters(matters)
        words = latest_words(tracker) if matters else customer_words(tracker)
        needs, possible = _needs(tracker, words or latest_words(tracker))
        if len(needs) == 1 and unit_of(needs[0]["unit"]).non_business:
            unit = unit_of(needs[0]["unit"])
            dispatcher.utter_message(response="utter_answer_city_services")
            dispatcher.utter_message(response="utter_customer_service",
                                     contact_email=contact_for(unit, None, lang).email,
                                     unit_url=unit.url_for(lang) or "")
            restate_offer(dispatcher, tracker)
            return []
        events: list[EventType] = [SlotSet("clarify_tries", 0)]
        if opened:
            return events + self._beside_open(dispatcher, tracker, matters, needs, lang)
        new = [new_matter(n["unit"], n["intent"], n["text"]) for n in needs]
        if len(new) > 1:
            dispatcher.utter_message(response="utter_routed_several", count=len(new),
                                     matter_lines=matter_lines(new, lang))
            matters += new
            _offer(dispatcher, matters)
            return [*events, *matter_events(matters), SlotSet("offer_pending", True)]
        unit = unit_of(new[0]["unit"])
        intent = new[0]["intent"]
        question = (tracker.latest_message.get("routing") or {}).get("question")
        dispatcher.utter_message(response="utter_routed", unit_name=unit.names.get(lang))
        if question in ANSWERED_QUESTIONS:  # "how much does a terrace permit cost?"
            answer_question(dispatcher, question, new[0], lang, "")
        elif intent and f"utter_answer_{intent}" in domain.get("responses", {}):
            dispatcher.utter_message(response=f"utter_answer_{intent}")
        if unit.url_for(lang):
            dispatcher.utter_message(response="utter_more_info", unit_url=unit.url_for(lang))
        if unit.referral:
            dispatcher.utter_message(response="utter_referral", unit_name=unit.names.get(lang),
                                     contact_email=contact_for(unit, intent, lang).email)
            return [*events, SlotSet("offer_pending", False)]
        matters += new
        if possible:
            also = [new_matter(n["unit"], n["intent"], n["text"]) for n in possible]
            dispatcher.utter_message(response="utter_also_need",
                                     matter_lines=matter_lines(also, lang))
            _offer(dispatcher, matters, also, domain, lang)
            return [*events, *matter_events(matters), SlotSet("offer_pending", True),
                    SlotSet("possible_matter", also)]
        _offer(dispatcher, matters)
        return [*events, *matter_events(matters), SlotSet("offer_pending", True)]

    @staticmethod
    def _beside_open(dispatcher: CollectingDispatcher, tracker: Tracker,
                     matters: list[dict[str, Any]], needs: list[dict[str, Any]],
                     lang: str) -> list[EventType]:
        opened = open_matters(matters)
        by_unit = {m["unit"]: m for m in opened}
        for need in needs:
            unit = unit_of(need["unit"])
            if unit.referral and unit.id not in by_unit:  # outside the city: never forwarded
                dispatcher.utter_message(response="utter_referral",
                                         unit_name=unit.names.get(lang),
                                         contact_email=contact_for(unit, None, lang).email)
        needs = [n for n in needs if not unit_of(n["unit"]).referral or n["unit"] in by_unit]
        if not needs:
            restate_offer(dispatcher, tracker)
            return []
        other = [n for n in needs if n["unit"] not in by_unit]
        for need in needs:
            same = by_unit.get(need["unit"])
            if same is not None and need["text"] and need["text"] not in same["text"]:
                same["text"] = f"{same['text']}\n{need['text']}".strip()
        if not other:
            unit = unit_of(needs[0]["unit"])
            dispatcher.utter_message(response="utter_routed_same",
                                     unit_name=unit.names.get(lang))
            restate_offer(dispatcher, tracker)
            return matter_events(matters)
        names = ", ".join(str(unit_of(m["unit"]).names.get(lang)) for m in opened)
        new_names = ", ".join(str(unit_of(n["unit"]).names.get(lang)) for n in other)
        dispatcher.utter_message(response="utter_ask_add_or_replace", unit_name=names,
                                 new_unit_name=new_names)
        pending = [new_matter(n["unit"], n["intent"], n["text"]) for n in other]
        # Until the customer chooses, a yes must not send the summary shown before.
        return [*matter_events(matters), SlotSet("pending_matter", pending),
                SlotSet("summary_pending", False)]


class _PendingMatterMixin:
    """Shared by "both" and "only the new one" (not an action of its own)."""

    @staticmethod
    def _pending(dispatcher: CollectingDispatcher, tracker: Tracker
                 ) -> list[dict[str, Any]]:
        """The matter(s) waiting for the choice; none: the pending question again.

        "Forward both" takes the possible need offered with the first message instead.
        """
        slot = ("possible_matter" if next(tracker.get_latest_entity_values(FORWARD_ENTITY),
                                         None) else "pending_matter")
        pending = [dict(m) for m in tracker.get_slot(slot) or []]
        if not pending and not restate_offer(dispatcher, tracker):
            dispatcher.utter_message(response="utter_ask_rephrase")
        return pending

    @staticmethod
    def _continue(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                  matters: list[dict[str, Any]]) -> list[EventType]:
        events = [*matter_events(matters), SlotSet("pending_matter", None),
                  SlotSet("possible_matter", None)]
        if tracker.active_loop.get("name"):
            return events  # the form goes on; the summary will list every matter
        if details_complete(tracker, domain):  # the summary again, with every matter
            return [*events, FollowupAction("action_show_summary")]
        _offer(dispatcher, matters)
        return [*events, SlotSet("offer_pending", True)]


class ActionAddMatter(_PendingMatterMixin, Action):
    """The new need is a second matter beside the open one(s)."""

    def name(self) -> str:
        """Action name."""
        return "action_add_matter"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Add the pending matter(s)."""
        pending = self._pending(dispatcher, tracker)
        if not pending:
            return []
        matters = all_matters(tracker) + pending
        dispatcher.utter_message(response="utter_matter_added",
                                 matter_lines=matter_lines(open_matters(matters),
                                                           language_of(tracker)))
        forward = next(tracker.get_latest_entity_values(FORWARD_ENTITY), None)
        if forward and not tracker.active_loop.get("name"):
            return [*matter_events(matters), SlotSet("possible_matter", None),
                    SlotSet("offer_pending", False), FollowupAction(FORM)]
        return self._continue(dispatcher, tracker, domain, matters)


class ActionReplaceMatter(_PendingMatterMixin, Action):
    """The new need replaces the open matter(s)."""

    def name(self) -> str:
        """Action name."""
        return "action_replace_matter"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Drop the open matters, keep the pending one(s)."""
        pending = self._pending(dispatcher, tracker)
        if not pending:
            return []
        matters = [m for m in all_matters(tracker) if m.get("state") != OPEN] + pending
        lang = language_of(tracker)
        dispatcher.utter_message(response="utter_matter_replaced", unit_name=", ".join(
            str(unit_of(m["unit"]).names.get(lang)) for m in pending))
        return self._continue(dispatcher, tracker, domain, matters)


class ActionClarify(Action):
    """Ask which of the likely units is meant; after two tries, go to the default unit."""

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
        if open_matters(all_matters(tracker)):
            # Unsure while a matter is open: most likely a question about it.
            dispatcher.utter_message(response="utter_default_in_matter")
            restate_offer(dispatcher, tracker)
            return []
        if tries >= MAX_CLARIFY_TRIES:
            unit = unit_of(table().default_unit)
            matters = all_matters(tracker) + [
                new_matter(unit.id, UNCLASSIFIED, customer_words(tracker))]
            dispatcher.utter_message(response="utter_unclassified")
            _offer(dispatcher, matters)
            return [SlotSet("clarify_tries", 0), *matter_events(matters),
                    SlotSet("offer_pending", True)]
        if not candidates:
            dispatcher.utter_message(response="utter_default")
            return [SlotSet("clarify_tries", tries)]
        units = table().units
        buttons = [{"title": units[c["unit"]].names.get(lang), "payload": f"/{c['intent']}"}
                   for c in candidates[:MAX_CLARIFY_BUTTONS]]
        buttons.append({"title": response_text(domain, "utter_clarify_something_else", lang),
                        "payload": "/something_else"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return [SlotSet("clarify_tries", tries)]


class ActionHandoff(Action):
    """The customer wants a person: forward the matter (or a new one to the default unit)."""

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Explain, then offer to forward."""
        matters = all_matters(tracker)
        if not open_matters(matters):
            matters.append(new_matter(table().default_unit, "human_handoff",
                                      customer_words(tracker)))
        dispatcher.utter_message(response="utter_handoff")
        _offer(dispatcher, matters)
        return [*matter_events(matters), SlotSet("offer_pending", True)]


class ActionComplaint(Action):
    """A complaint: apologise plainly and offer a person (marked as a complaint)."""

    def name(self) -> str:
        """Action name."""
        return "action_complaint"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Add a complaint matter for the complaints unit and offer to forward it."""
        lang = language_of(tracker)
        unit = unit_of(table().complaint_unit)
        matters = [m for m in all_matters(tracker)
                   if not (m.get("intent") == COMPLAINT and m in open_matters([m]))]
        matters.append(new_matter(unit.id, COMPLAINT, latest_words(tracker)
                                  or customer_words(tracker)))
        dispatcher.utter_message(response="utter_complaint", unit_name=unit.names.get(lang))
        events = matter_events(matters)
        if tracker.active_loop.get("name"):
            return events
        if details_complete(tracker, domain):
            return [*events, FollowupAction("action_show_summary")]
        _offer(dispatcher, matters)
        return [*events, SlotSet("offer_pending", True)]


class ActionDeclineOffer(Action):
    """The customer does not want the enquiry forwarded: give the direct contact."""

    def name(self) -> str:
        """Action name."""
        return "action_decline_offer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        """Say where to turn instead; forget the open matters."""
        lang = language_of(tracker)
        unit = unit_of(tracker.get_slot("unit"))
        dispatcher.utter_message(response="utter_decline_offer", contact_email=contact_for(
            unit, tracker.get_slot("enquiry_intent"), lang).email)
        kept = [m for m in all_matters(tracker) if m.get("state") != OPEN]
        return [*matter_events(kept), SlotSet("offer_pending", False),
                SlotSet("pending_matter", None), SlotSet("possible_matter", None)]
