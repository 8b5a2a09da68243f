"""The conversation tracker: Rasa events in, current state out.

Events are Rasa's wire-format dicts (`{"event": "slot", "name": ..., "value": ...}`), the
same that rasa-sdk actions return, so a tracker serialises to exactly what an action
server expects (`as_sdk_state`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.domain import REQUESTED_SLOT, Domain

ACTION_LISTEN = "action_listen"
ACTION_SESSION_START = "action_session_start"
Event = dict[str, Any]


def user_event(text: str, parse_data: dict[str, Any], *, input_channel: str | None = None,
               metadata: dict[str, Any] | None = None, message_id: str | None = None) -> Event:
    """A `user` event with the NLU parse result."""
    return {"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse_data,
            "input_channel": input_channel, "message_id": message_id,
            "metadata": metadata or {}}


def bot_event(message: dict[str, Any]) -> Event:
    """A `bot` event from a response dict ({text, buttons, custom, ...})."""
    data = {k: v for k, v in message.items() if k not in ("text", "recipient_id") and v}
    return {"event": "bot", "timestamp": time.time(), "text": message.get("text"),
            "data": data, "metadata": {}}


def action_event(name: str, *, policy: str | None = None, confidence: float = 1.0) -> Event:
    """An `action` event (the action `name` was executed)."""
    return {"event": "action", "timestamp": time.time(), "name": name, "policy": policy,
            "confidence": confidence}


def slot_event(name: str, value: Any) -> Event:
    """A `slot` event."""
    return {"event": "slot", "timestamp": time.time(), "name": name, "value": value}


def loop_event(name: str | None) -> Event:
    """An `active_loop` event (None deactivates)."""
    return {"event": "active_loop", "timestamp": time.time(), "name": name}


@dataclass
class Turn:
    """One significant step for rule matching: a user intent or an executed action."""

    kind: str  # "intent" or "action"
    name: str
    slots_after: dict[str, Any] = field(default_factory=dict)
    loop_after: str | None = None
    set_slots: set[str] = field(default_factory=set)


class DialogueTracker:
    """The state of one conversation, replayed from its events."""

    def __init__(self, sender_id: str, domain: Domain, events: list[Event] | None = None
                 ) -> None:
        self.sender_id = sender_id
        self.domain = domain
        self.events: list[Event] = []
        self._reset()
        for event in events or []:
            self.update(event)

    def _reset(self) -> None:
        self.slots: dict[str, Any] = self.domain.initial_slots()
        self.active_loop: str | None = None
        self.latest_message: dict[str, Any] = {}
        self.latest_action_name: str | None = None
        self.followup_action: str | None = None
        self.paused = False
        self.interrupted = False

    # -- events -------------------------------------------------------------------------

    def update(self, event: Event) -> None:
        """Append one event and apply it to the state."""
        self.events.append(event)
        kind = event.get("event")
        if kind in ("restart", "rewind", "undo"):
            self._replay()
            return
        self._apply(event)

    def update_many(self, events: list[Event]) -> None:
        """Append and apply several events in order."""
        for event in events:
            self.update(event)

    def _apply(self, event: Event) -> None:
        kind = event.get("event")
        if kind == "user":
            parse = dict(event.get("parse_data") or {})
            parse.setdefault("text", event.get("text"))
            self.latest_message = parse
            self.followup_action = None
        elif kind == "action":
            self.latest_action_name = event.get("name")
            if self.followup_action == event.get("name"):
                self.followup_action = None
        elif kind == "slot":
            self.slots[str(event["name"])] = event.get("value")
        elif kind == "active_loop":
            self.active_loop = event.get("name")
            self.interrupted = False
            if self.active_loop is None:
                self.slots[REQUESTED_SLOT] = None
        elif kind == "reset_slots":
            self.slots = self.domain.initial_slots()
        elif kind == "followup":
            self.followup_action = event.get("name")
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "session_started":
            carry = self.domain.session_config.carry_over_slots_to_new_session
            slots = self.slots if carry else self.domain.initial_slots()
            self._reset()
            self.slots = slots

    def applied_events(self) -> list[Event]:
        """Events that still count: restarts, rewinds and undos removed what they cancel."""
        applied: list[Event] = []
        for event in self.events:
            kind = event.get("event")
            if kind == "restart":
                applied = []
            elif kind == "rewind":
                while applied and applied[-1].get("event") != "user":
                    applied.pop()
                if applied:
                    applied.pop()
            elif kind == "undo":
                while applied and applied[-1].get("event") != "action":
                    applied.pop()
                if applied:
                    applied.pop()
            else:
                applied.append(event)
        return applied

    def _replay(self) -> None:
        self._reset()
        for event in self.applied_events():
            self._apply(event)

    # -- queries --------------------------------------------------------------------------

    @property
    def latest_intent(self) -> str | None:
        """The intent of the latest user message."""
        intent = self.latest_message.get("intent") or {}
        return intent.get("name")

    @property
    def latest_text(self) -> str:
        """The text of the latest user message."""
        return str(self.latest_message.get("text") or "")

    def get_slot(self, name: str) -> Any:
        """A slot's value (None when unset)."""
        return self.slots.get(name)

    def events_after_latest_user(self) -> list[Event]:
        """Events since the latest user message (what the current turn produced)."""
        applied = self.applied_events()
        for i in range(len(applied) - 1, -1, -1):
            if applied[i].get("event") == "user":
                return applied[i + 1:]
        return applied

    def turns(self) -> list[Turn]:
        """User intents and executed actions of the current session, with state after each."""
        slots = self.domain.initial_slots()
        loop: str | None = None
        turns: list[Turn] = []
        for event in self.applied_events():
            kind = event.get("event")
            if kind == "session_started":
                turns = []
            elif kind == "user":
                intent = (event.get("parse_data") or {}).get("intent") or {}
                turns.append(Turn("intent", str(intent.get("name")), dict(slots), loop))
            elif kind == "action":
                name = str(event.get("name"))
                if name not in (ACTION_LISTEN, ACTION_SESSION_START):
                    turns.append(Turn("action", name, dict(slots), loop))
            elif kind == "slot":
                slots[str(event["name"])] = event.get("value")
                if turns:
                    turns[-1].slots_after[str(event["name"])] = event.get("value")
                    turns[-1].set_slots.add(str(event["name"]))
            elif kind == "active_loop":
                loop = event.get("name")
                if turns:
                    turns[-1].loop_after = loop
            elif kind == "reset_slots":
                slots = self.domain.initial_slots()
                if turns:
                    turns[-1].slots_after = dict(slots)
        return turns

    def as_sdk_state(self) -> dict[str, Any]:
        """The tracker as rasa-sdk's `Tracker.from_dict` reads it."""
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": dict(self.latest_message),
            "events": list(self.applied_events()),
            "paused": self.paused,
            "followup_action": self.followup_action,
            "active_loop": {"name": self.active_loop, "is_interrupted": self.interrupted}
            if self.active_loop else {},
            "latest_action_name": self.latest_action_name,
            "latest_input_channel": None,
        }
