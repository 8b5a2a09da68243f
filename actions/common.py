"""What the actions share: the conversation's language, units, matters and restating offers.

A matter is one need of the customer: `{"unit", "intent", "text", "state", "reference"}`
with state "open" (proposed or being collected) or "submitted". The `matters` slot holds
them in order; the `unit`, `enquiry_intent` and `enquiry_text` slots mirror the first
open one, so that rules and older clients keep working.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import runtime
from bot.constants import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from bot.routing import RoutingTable
from bot.routing.schema import Contact, Unit

FORM = "enquiry_form"
OPEN = "open"
SUBMITTED = "submitted"
MAX_WORDS_CHARS = 2000
MAX_LINE_WORDS_CHARS = 80
# How bot/service.py joins the clauses of one need ("we open a cafe; we need a terrace").
PART_SEPARATOR = "; "
# Intents whose words say nothing about the matter itself.
NOT_MATTER_WORDS = {"greet", "affirm", "deny", "thanks", "goodbye", "human_handoff", "stop",
                    "correct", "inform", "add_matter", "replace_matter", "switch_language",
                    "something_else", "bot_challenge", "ask_status", "ask_opening_hours",
                    "ask_contact", "ask_cost", "ask_processing_time", "ask_where_to_apply"}


def language_of(tracker: Tracker) -> str:
    """The conversation's language slot (fi, sv or en)."""
    value = tracker.get_slot("language")
    return value if value in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def table() -> RoutingTable:
    """The routing table the agent (or the action server) loaded."""
    return runtime.current().routing


def unit_of(unit_id: str | None) -> Unit:
    """The unit from the routing table (the default unit when unknown)."""
    units = table().units
    return units.get(unit_id or "") or units[table().default_unit]


def contact_for(unit: Unit, intent: str | None, lang: str) -> Contact:
    """The contact that receives this kind of enquiry (the route's role, else by language)."""
    found = table().unit_for(intent) if intent else None
    if found is not None and found[0] == unit.id:
        return found[1]
    return table().contact(unit.id, language=lang)


def form_slots(domain: DomainDict) -> list[str]:
    """The slots the enquiry form collects, from domain.yml."""
    return list(domain.get("forms", {}).get(FORM, {}).get("required_slots", []))


def _variation(domain: DomainDict, name: str, lang: str) -> dict[str, Any] | None:
    """A response's variation for `lang` in the domain, or None."""
    for variation in domain.get("responses", {}).get(name, []):
        conditions = variation.get("condition") or []
        if any(c.get("name") == "language" and c.get("value") == lang for c in conditions):
            return dict(variation)
    return None


def response_text(domain: DomainDict, name: str, lang: str) -> str:
    """The text of a response's variation for `lang` (button titles that live in the domain)."""
    variation = _variation(domain, name, lang)
    return name if variation is None else str(variation.get("text") or "")


def response_buttons(domain: DomainDict, name: str, lang: str) -> list[dict[str, Any]]:
    """The buttons of a response's variation for `lang`."""
    variation = _variation(domain, name, lang) or {}
    return [dict(b) for b in variation.get("buttons") or []]


def is_payload(text: str) -> bool:
    """A button payload such as "/affirm", not words."""
    return text.strip().startswith("/")


def latest_words(tracker: Tracker) -> str:
    """The latest message's text when it is the customer's own words, else ""."""
    text = str(tracker.latest_message.get("text") or "").strip()
    return "" if is_payload(text) else text[:MAX_WORDS_CHARS]


def customer_words(tracker: Tracker) -> str:
    """The customer's own words about the matter since the last enquiry ended."""
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
            if text and not is_payload(text) and intent not in NOT_MATTER_WORDS:
                words.append(text)
        if len(words) >= 3:
            break
    return "\n".join(reversed(words))[:MAX_WORDS_CHARS]


# -- matters ------------------------------------------------------------------------------

def new_matter(unit: str, intent: str | None, text: str) -> dict[str, Any]:
    """A proposed matter."""
    return {"unit": unit, "intent": intent, "text": text[:MAX_WORDS_CHARS], "state": OPEN,
            "reference": None}


def all_matters(tracker: Tracker) -> list[dict[str, Any]]:
    """Every matter of the conversation, copied (safe to change)."""
    return [dict(m) for m in tracker.get_slot("matters") or [] if isinstance(m, dict)]


def open_matters(matters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The matters not yet sent."""
    return [m for m in matters if m.get("state") == OPEN]


def matter_events(matters: list[dict[str, Any]]) -> list[EventType]:
    """Store the matters; the unit/enquiry slots mirror the first open one."""
    first = next(iter(open_matters(matters)), None)
    return [SlotSet("matters", matters),
            SlotSet("unit", first["unit"] if first else None),
            SlotSet("enquiry_intent", first["intent"] if first else None),
            SlotSet("enquiry_text", first["text"] if first else None)]


def _short(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= MAX_LINE_WORDS_CHARS:
        return line
    return line[:MAX_LINE_WORDS_CHARS - 1].rsplit(" ", 1)[0] + "…"


def matter_lines(matters: list[dict[str, Any]], lang: str) -> str:
    """One line per matter: the customer's words and the unit, the unit name standing alone."""
    lines = []
    for m in matters:
        name = unit_of(m["unit"]).names.get(lang)
        parts = str(m.get("text") or "").split(PART_SEPARATOR)
        words = _short(" … ".join(p.strip().rstrip(".;,") for p in parts if p.strip()))
        lines.append(f"• \"{words}\" → {name}" if words else f"• {name}")
    return "\n".join(lines)


def restate_offer(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """After an answer on the side, the pending question again in one short line.

    Returns whether anything was pending (the form asks its question again itself).
    """
    if tracker.active_loop.get("name"):
        return True
    if tracker.get_slot("summary_pending"):
        dispatcher.utter_message(response="utter_send_again")
    elif tracker.get_slot("offer_pending"):
        dispatcher.utter_message(response="utter_offer_again")
    else:
        return False
    return True


def details_complete(tracker: Tracker, domain: DomainDict) -> bool:
    """Whether the form's details are all given (the summary can be shown)."""
    slots = form_slots(domain)
    return bool(slots) and all(tracker.get_slot(slot) is not None for slot in slots)
