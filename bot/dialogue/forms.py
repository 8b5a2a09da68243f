"""Slot filling: the mappings of domain.yml, and the form loop (Rasa's FormAction).

The loop follows Rasa's protocol so that rasa-sdk's `FormValidationAction` works
unchanged: slot candidates from the latest message are appended to the tracker as `slot`
events, `validate_<form>` returns the validated `SlotSet`s (None for a rejected value,
optionally `requested_slot`), then the form asks for the next missing slot with
`utter_ask_<form>_<slot>`, `utter_ask_<slot>` or `action_ask_<slot>`, or deactivates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.domain import REQUESTED_SLOT, Domain, SlotMapping
from bot.dialogue.tracker import DialogueTracker, loop_event, slot_event


@dataclass
class FormStep:
    """What one run of the form produced."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ask: str | None = None  # the response or action that asks for the next slot
    done: bool = False


def _value_from_mapping(mapping: SlotMapping, tracker: DialogueTracker) -> Any:
    message = tracker.latest_message
    intent = tracker.latest_intent
    if not mapping.intent_allowed(intent):
        return None
    if mapping.type == "from_entity":
        values = [e.get("value") for e in message.get("entities") or []
                  if e.get("entity") == mapping.entity]
        return values[0] if values else None
    if mapping.type == "from_text":
        text = tracker.latest_text.strip()
        return text or None
    if mapping.type == "from_intent":
        return mapping.value if mapping.intent else None
    return None


def _mapping_applies(mapping: SlotMapping, active_loop: str | None,
                     requested: str | None) -> bool:
    if not mapping.conditions:
        return True
    return any(c.active_loop == active_loop and (c.requested_slot is None
                                                 or c.requested_slot == requested)
               for c in mapping.conditions)


def extract_slots(domain: Domain, tracker: DialogueTracker, *, active_loop: str | None,
                  requested: str | None) -> dict[str, Any]:
    """Slot values that the latest message fills under the given loop state."""
    found: dict[str, Any] = {}
    form = domain.forms.get(active_loop) if active_loop else None
    ignored = set(form.ignored_intents) if form else set()
    for name, slot in domain.slots.items():
        for mapping in slot.mappings:
            if mapping.type in ("custom", "from_trigger_intent"):
                continue
            if not _mapping_applies(mapping, active_loop, requested):
                continue
            if mapping.conditions and tracker.latest_intent in ignored:
                continue
            value = _value_from_mapping(mapping, tracker)
            if value is not None:
                found[name] = value
                break
    return found


def global_slot_events(domain: Domain, tracker: DialogueTracker) -> list[dict[str, Any]]:
    """`slot` events for mappings without conditions (applied on every user message)."""
    events = []
    for name, slot in domain.slots.items():
        for mapping in slot.mappings:
            if mapping.conditions or mapping.type in ("custom", "from_trigger_intent"):
                continue
            value = _value_from_mapping(mapping, tracker)
            if slot.type == "categorical" and value not in (slot.values or []):
                continue  # "/switch_language{"language": "de"}" changes nothing
            if value is not None and tracker.get_slot(name) != value:
                events.append(slot_event(name, value))
                break
    return events


def next_slot_to_ask(domain: Domain, form_name: str, slots: dict[str, Any]) -> str | None:
    """The first required slot of the form that has no value yet."""
    for name in domain.forms[form_name].required_slots:
        if slots.get(name) is None:
            return name
    return None


def ask_action(domain: Domain, form_name: str, slot: str, custom: set[str]) -> str | None:
    """The response or action that asks for `slot`."""
    for name in (f"action_ask_{form_name}_{slot}", f"action_ask_{slot}"):
        if name in custom:
            return name
    for name in (f"utter_ask_{form_name}_{slot}", f"utter_ask_{slot}"):
        if name in domain.responses:
            return name
    return None


def candidate_events(domain: Domain, tracker: DialogueTracker, form_name: str,
                     *, activating: bool) -> tuple[list[dict[str, Any]], bool]:
    """Slot candidates for the form from the latest message, and whether it was rejected.

    A message is rejected when the form was already active and the message fills none of
    the form's slots (so a rule or the fallback should handle it instead).
    """
    requested = tracker.get_slot(REQUESTED_SLOT)
    found = extract_slots(domain, tracker, active_loop=form_name, requested=requested)
    required = set(domain.forms[form_name].required_slots)
    candidates = {k: v for k, v in found.items() if k in required}
    events = [slot_event(k, v) for k, v in candidates.items()]
    rejected = not activating and requested is not None and not candidates
    return events, rejected


def finish_step(domain: Domain, form_name: str, tracker: DialogueTracker,
                validation_events: list[dict[str, Any]], custom: set[str]) -> FormStep:
    """After validation: ask for the next slot, or deactivate the form."""
    step = FormStep(events=list(validation_events))
    slots = dict(tracker.slots)
    explicit: Any = ...
    for event in validation_events:
        if event.get("event") == "slot":
            slots[event["name"]] = event.get("value")
            if event["name"] == REQUESTED_SLOT:
                explicit = event.get("value")
    next_slot = next_slot_to_ask(domain, form_name, slots) if explicit is ... else explicit
    if next_slot is None:
        step.events += [loop_event(None), slot_event(REQUESTED_SLOT, None)]
        step.done = True
        return step
    if explicit is ...:
        step.events.append(slot_event(REQUESTED_SLOT, next_slot))
    step.ask = ask_action(domain, form_name, next_slot, custom)
    return step
