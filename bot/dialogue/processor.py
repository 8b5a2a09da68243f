"""One user message in, the bot's messages out: predict and run actions until listening.

Order of decisions for each next action:
1. a follow-up action that an action asked for;
2. while a form is active, right after the user's message: a rule written for that form
   (`condition: active_loop`) that covers the message, else the form itself; when the form
   rejects the message (it fills none of the form's slots), a rule for the message, else
   the fallback, and then the form asks again;
3. otherwise the rules; a user message that no rule covers gets the fallback.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from bot.dialogue.action_runner import CustomActionRunner
from bot.dialogue.domain import Domain
from bot.dialogue.forms import (
    candidate_events,
    finish_step,
    global_slot_events,
)
from bot.dialogue.responses import render_response
from bot.dialogue.rules import RulePolicy
from bot.dialogue.tracker import (
    ACTION_LISTEN,
    ACTION_SESSION_START,
    DialogueTracker,
    action_event,
    bot_event,
    loop_event,
    user_event,
)
from bot.errors import ActionNotFoundError, ActionServerError

logger = logging.getLogger(__name__)

ACTION_RESTART = "action_restart"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
BUILT_IN_ACTIONS = {ACTION_LISTEN, ACTION_SESSION_START, ACTION_RESTART,
                    ACTION_DEFAULT_FALLBACK, ACTION_DEACTIVATE_LOOP}
MAX_ACTIONS_PER_TURN = 12
# "I didn't understand" is never said twice in a row: the second time, this one (which
# offers a person) is said instead, when the domain has it.
FALLBACK_RESPONSE = "utter_default"
FALLBACK_AGAIN_RESPONSE = "utter_default_again"
_SDK_MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image",
                     "attachment", "json_message", "recipient_id"}


class MessageProcessor:
    """Runs the dialogue for one conversation turn."""

    def __init__(self, domain: Domain, policy: RulePolicy, runner: CustomActionRunner, *,
                 rng: random.Random | None = None,
                 max_actions: int = MAX_ACTIONS_PER_TURN,
                 template_values: dict[str, Any] | None = None) -> None:
        self.domain = domain
        self.policy = policy
        self.runner = runner
        self.rng = rng or random.Random()
        self.max_actions = max_actions
        self.template_values = dict(template_values or {})
        self.custom_actions = runner.names()
        self._domain_dict = domain.as_dict()
        self._domain_digest = domain.digest()

    # -- sessions -------------------------------------------------------------------------

    def session_expired(self, tracker: DialogueTracker, now: float | None = None) -> bool:
        """True for a new conversation, or after `session_expiration_time` of silence."""
        applied = tracker.applied_events()
        if not any(e.get("event") == "session_started" for e in applied):
            return True
        minutes = self.domain.session_config.session_expiration_time
        if minutes <= 0:
            return False
        last = max((float(e.get("timestamp") or 0) for e in applied
                    if e.get("event") == "user"), default=0.0)
        return bool(last) and (now or time.time()) - last > minutes * 60

    def start_session(self, tracker: DialogueTracker) -> None:
        """Run `action_session_start`: a new session, slots carried over as configured."""
        tracker.update(action_event(ACTION_SESSION_START))
        tracker.update({"event": "session_started", "timestamp": time.time()})
        tracker.update(action_event(ACTION_LISTEN))

    # -- a turn ---------------------------------------------------------------------------

    async def handle(self, tracker: DialogueTracker, text: str, parse_data: dict[str, Any],
                     *, extra_events: list[dict[str, Any]] | None = None,
                     input_channel: str | None = None,
                     metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Apply one user message and run actions until the bot listens again."""
        if self.session_expired(tracker):
            self.start_session(tracker)
        tracker.update(user_event(text, parse_data, input_channel=input_channel,
                                  metadata=metadata))
        tracker.update_many(extra_events or [])
        tracker.update_many(global_slot_events(self.domain, tracker))
        out: list[dict[str, Any]] = []
        await self._run_turn(tracker, out)
        return out

    def _loop_rules(self, loop: str) -> list[Any]:
        return [r for r in self.policy.rules if r.loop_condition == loop]

    def _generic_rules(self) -> list[Any]:
        return [r for r in self.policy.rules if r.loop_condition is None]

    def _next_action(self, tracker: DialogueTracker, rejected: bool, reasked: bool) -> str:
        if tracker.followup_action:
            return tracker.followup_action
        turns = tracker.turns()
        just_user = bool(turns) and turns[-1].kind == "intent"
        loop = tracker.active_loop
        if loop and just_user:
            if not rejected:
                p = self.policy.predict(turns, only=self._loop_rules(loop),
                                        must_cover_latest_intent=True)
                return p.action if p else loop
            p = self.policy.predict(turns, only=self._generic_rules(),
                                    must_cover_latest_intent=True)
            return p.action if p else ACTION_DEFAULT_FALLBACK
        p = self.policy.predict(turns)
        if p is not None and p.action != ACTION_LISTEN:
            return p.action
        if loop and rejected and not reasked:
            return loop
        if p is None and just_user:
            return ACTION_DEFAULT_FALLBACK
        return ACTION_LISTEN

    async def _run_turn(self, tracker: DialogueTracker, out: list[dict[str, Any]]) -> None:
        rejected = False
        reasked = False
        for _ in range(self.max_actions):
            action = self._next_action(tracker, rejected, reasked)
            if action == ACTION_LISTEN:
                break
            if action in self.domain.forms:
                turns = tracker.turns()
                from_message = bool(turns) and turns[-1].kind == "intent" and not rejected
                if from_message:
                    outcome = await self._run_form(tracker, action, out, extract=True)
                    if outcome == "rejected":
                        rejected = True
                        continue
                else:
                    await self._run_form(tracker, action, out, extract=False)
                    reasked = True
                continue
            await self._run_action(tracker, action, out)
        else:
            logger.warning("Conversation %s: more than %d actions in one turn; listening.",
                           tracker.sender_id, self.max_actions)
        tracker.update(action_event(ACTION_LISTEN))

    # -- actions --------------------------------------------------------------------------

    def _utter(self, tracker: DialogueTracker, response: str, out: list[dict[str, Any]],
               values: dict[str, Any] | None = None,
               buttons: list[dict[str, Any]] | None = None) -> None:
        if (response == FALLBACK_RESPONSE and FALLBACK_AGAIN_RESPONSE in self.domain.responses
                and _previous_response(tracker) in (FALLBACK_RESPONSE,
                                                    FALLBACK_AGAIN_RESPONSE)):
            response = FALLBACK_AGAIN_RESPONSE
        message = render_response(self.domain, response, tracker.slots, self.rng,
                                  {**self.template_values, **(values or {})})
        if message is None:
            logger.warning("No variation of response '%s' fits the slots; nothing said.",
                           response)
            return
        if buttons:
            message["buttons"] = buttons
        tracker.update(bot_event(message))
        out.append(message)

    def _add_sdk_messages(self, tracker: DialogueTracker, messages: list[dict[str, Any]],
                          out: list[dict[str, Any]]) -> None:
        for message in messages:
            name = message.get("response") or message.get("template")
            if name:
                values = {k: v for k, v in message.items() if k not in _SDK_MESSAGE_KEYS}
                self._utter(tracker, str(name), out, values, message.get("buttons") or None)
                continue
            clean: dict[str, Any] = {"text": message.get("text")}
            for key in ("buttons", "custom", "image", "attachment"):
                if message.get(key):
                    clean[key] = message[key]
            if clean.get("text") or len(clean) > 1:
                tracker.update(bot_event(clean))
                out.append(clean)

    async def _custom(self, tracker: DialogueTracker, name: str
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return await self.runner.run(name, tracker.sender_id, tracker.as_sdk_state(),
                                     self._domain_dict, self._domain_digest)

    async def _run_action(self, tracker: DialogueTracker, name: str,
                          out: list[dict[str, Any]]) -> None:
        tracker.update(action_event(name))
        if name.startswith("utter_"):
            self._utter(tracker, name, out)
        elif name == ACTION_DEFAULT_FALLBACK:
            self._utter(tracker, "utter_default", out)
        elif name == ACTION_DEACTIVATE_LOOP:
            tracker.update(loop_event(None))
        elif name == ACTION_RESTART:
            if "utter_restart" in self.domain.responses:
                self._utter(tracker, "utter_restart", out)
            tracker.update({"event": "restart", "timestamp": time.time()})
        elif name == ACTION_SESSION_START:
            tracker.update({"event": "session_started", "timestamp": time.time()})
        elif name in self.custom_actions:
            try:
                events, messages = await self._custom(tracker, name)
            except ActionServerError:
                self._utter(tracker, "utter_action_failed", out)
                return
            self._add_sdk_messages(tracker, messages, out)
            tracker.update_many(events)
        else:
            raise ActionNotFoundError(name, sorted(self.custom_actions))

    async def _run_form(self, tracker: DialogueTracker, form: str,
                        out: list[dict[str, Any]], *, extract: bool) -> str:
        activating = tracker.active_loop != form
        candidates: list[dict[str, Any]] = []
        if extract:
            candidates, rejected = candidate_events(self.domain, tracker, form,
                                                    activating=activating)
            if rejected:
                return "rejected"
        tracker.update(action_event(form))
        if activating:
            tracker.update(loop_event(form))
        tracker.update_many(candidates)
        validation: list[dict[str, Any]] = []
        validator = f"validate_{form}"
        if validator in self.custom_actions and (candidates or activating):
            try:
                validation, messages = await self._custom(tracker, validator)
            except ActionServerError:
                self._utter(tracker, "utter_action_failed", out)
                validation, messages = [], []
            self._add_sdk_messages(tracker, messages, out)
        step = finish_step(self.domain, form, tracker, validation, self.custom_actions)
        tracker.update_many(step.events)
        if step.ask:
            if step.ask.startswith("utter_"):
                self._utter(tracker, step.ask, out)
            else:
                await self._run_action(tracker, step.ask, out)
        return "done" if step.done else "asked"


def _previous_response(tracker: DialogueTracker) -> str | None:
    """The response name of the bot's last message before the customer's latest one."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "bot" and seen_user:
            return (event.get("data") or {}).get("response")
    return None
