"""The agent: NLU, routing decision, dialogue and store for one message at a time."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import re
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot import runtime
from bot.constants import CONVERSATIONAL_MIN_CONFIDENCE, DEFAULT_LANGUAGE
from bot.dialogue.action_runner import (
    CustomActionRunner,
    HttpActionRunner,
    InProcessActionRunner,
)
from bot.dialogue.buttons import ButtonWords, offered_buttons
from bot.dialogue.domain import LANGUAGE_SLOT, REQUESTED_SLOT, Domain, load_domain
from bot.dialogue.processor import MessageProcessor
from bot.dialogue.rules import RulePolicy, load_rules
from bot.dialogue.tracker import DialogueTracker, slot_event
from bot.errors import ServerBusyError, StoreUnavailableError
from bot.fair import FairExecutor
from bot.nlu.model import RANKING_SIZE
from bot.registry import load_live
from bot.routing import RouteDecision
from bot.service import Router
from bot.settings import Settings
from bot.store.db import Database, unavailable_message
from bot.store.trackers import SQLTrackerStore

T = TypeVar("T")
logger = logging.getLogger(__name__)
NLU_FALLBACK = "nlu_fallback"
_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?\s*$", re.DOTALL)
MAX_MESSAGE_CHARS = 10_000
# Two stray words ("alert script") are no reason to change the conversation's language;
# chat words the lexicon knows ("tack", "kiitos") are.
MIN_WORDS_TO_SWITCH_LANGUAGE = 3
# While the form asks for a detail, an answer this short is the detail ("Kahvila Kantele"),
# even when the NLU reads a need into it; a longer message with a need is a second matter.
MAX_FORM_ANSWER_WORDS = 4
# While the form asks for a detail, a need is another matter only when this clear.
MIN_NEED_IN_FORM_CONFIDENCE = 0.8
FORM_ANSWER_INTENT = "inform"
MAX_FORM_LANGUAGE_ANSWER_WORDS = 2
AFFIRM, DENY = "affirm", "deny"
# A language switch is short ("Voitteko vastata suomeksi?"); a longer message that reads as
# one is a need that mentions a language ("can my kids borrow English books?").
MAX_LANGUAGE_SWITCH_WORDS = 10
# A message that names the open matter's topic is a question about it (not the need said
# again) when, the need's intents left aside, a question takes this share of the rest.
MIN_QUESTION_SHARE = 0.8
# A complaint or status question naming the topic must also be this likely in itself.
MIN_REMARK_CONFIDENCE = 0.05
# The matters of the conversation (a list slot of {unit, intent, text, state, reference}).
MATTERS_SLOT = "matters"
MATTER_OPEN = "open"
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def _open_units(tracker: DialogueTracker) -> set[str]:
    """The units of the conversation's matters not yet sent."""
    return {str(m.get("unit")) for m in tracker.get_slot(MATTERS_SLOT) or []
            if isinstance(m, dict) and m.get("state") == MATTER_OPEN}


def parse_payload(text: str, intents: list[str]) -> tuple[str, list[dict[str, Any]]] | None:
    """Rasa button payloads: "/intent" or '/intent{"entity": "value"}'; None for text."""
    match = _PAYLOAD.match(text.strip())
    if not match or match.group(1) not in intents:
        return None
    entities: list[dict[str, Any]] = []
    if match.group(2):
        try:
            values = json.loads(match.group(2))
        except json.JSONDecodeError:
            return None
        if not isinstance(values, dict):
            return None
        entities = [{"entity": str(k), "value": v, "extractor": "payload"}
                    for k, v in values.items()
                    if isinstance(v, str | int | float | bool)]  # no lists or objects
    return match.group(1), entities


class Agent:
    """Handles messages of many conversations; state lives in the store."""

    def __init__(self, router: Router, domain: Domain, policy: RulePolicy,
                 runner: CustomActionRunner, store: SQLTrackerStore, settings: Settings,
                 *, rng: random.Random | None = None,
                 button_words: ButtonWords | None = None) -> None:
        self.router = router
        self.button_words = button_words or ButtonWords()
        # What in-process actions see while this agent runs a turn (its database and table).
        self.runtime = runtime.Runtime(settings, store.db, router.table)
        # Intents that switch the language: those that fill the language slot.
        language_slot = domain.slots.get(LANGUAGE_SLOT)
        self._switch_intents = {
            str(i) for mapping in (language_slot.mappings if language_slot else [])
            for i in ([mapping.intent] if isinstance(mapping.intent, str)
                      else mapping.intent or [])}
        self.domain = domain
        self.policy = policy
        self.runner = runner
        self.store = store
        self.settings = settings
        self.processor = MessageProcessor(
            domain, policy, runner, rng=rng,
            template_values={"retention_days": settings.retention_days})
        # One lock per conversation being handled; it goes away when no turn holds or waits.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._nlu: FairExecutor | None = None  # started by the first message
        self._db_threads: ThreadPoolExecutor | None = None
        self.store_failed_at: float | None = None  # when the database last refused work

    @classmethod
    def load(cls, settings: Settings, *, model: str | Path | None = None,
             router: Router | None = None, db: Database | None = None,
             rng: random.Random | None = None, serving: bool = False) -> Agent:
        """Build the agent from the project files named in `settings`.

        `serving`: the model is loaded for a server (see `load_model`). Without `model` or
        `router`: the live model (recorded in the database, its digest checked), else the
        last promoted one that loads (`load_live`); before any promotion, only a pinned
        folder (`BPBOT_MODELS_PATH` naming one model).

        Raises:
            NoLiveModelError: no model given, none pinned, and none promoted that loads.
        """
        domain = load_domain(settings.domain_path)
        rules = load_rules([settings.rules_path])
        db = db or Database.from_settings(settings)
        if router is None:  # the model given, or the live one (recorded in the database)
            load = partial(Router.load, routing=settings.routing_path, serving=serving,
                           encoders=settings.encoder_threads)
            router = load(model) if model else load_live(db, settings.models_path,
                                                         load).loaded
        runtime.configure(settings, db, router.table)
        runner: CustomActionRunner
        if settings.action_endpoint:
            runner = HttpActionRunner(settings.action_endpoint, set(domain.action_names))
        else:
            runner = InProcessActionRunner(settings.actions_package)
        return cls(router, domain, RulePolicy(rules), runner, SQLTrackerStore(db), settings,
                   rng=rng, button_words=ButtonWords.load(settings.buttons_path))

    # -- understanding --------------------------------------------------------------------

    def parse(self, text: str, tracker: DialogueTracker) -> dict[str, Any]:
        """The parse data of a user message, Rasa-shaped, with the routing decision.

        Read in this order: a button payload; a typed reply that means one of the buttons
        just offered; the NLU, read against the conversation's matters, whose routing
        decision may name several units.
        """
        previous = tracker.get_slot(LANGUAGE_SLOT)
        clicked = self._clicked(text, tracker, previous)
        if clicked is not None:
            return clicked
        parsed = self.router.nlu.parse(text, previous, ranking_size=0)  # all, cut below
        routed = self._route(tracker, parsed)
        lang = previous or DEFAULT_LANGUAGE
        if parsed["intent"]["name"] == AFFIRM and self.button_words.negated(text, lang):
            # "Skicka int" read as a yes would send what the customer refused.
            parsed["intent"] = {"name": DENY, "confidence": parsed["intent"]["confidence"]}
        elif parsed["intent"]["name"] == AFFIRM and not self._yes_fits(tracker, text, lang):
            # A yes that sends or forwards needs a yes-word ("skippa det" is no yes), and a
            # question without a yes button ("cancel or correct?") has no yes answer: ask.
            parsed["intent"] = {"name": NLU_FALLBACK,
                                "confidence": parsed["intent"]["confidence"]}
        if self._answers_the_form(tracker, text, routed, parsed["intent"]["name"],
                                  float(parsed["intent"]["confidence"])):
            parsed["intent"] = {"name": FORM_ANSWER_INTENT,
                                "confidence": parsed["intent"]["confidence"]}
        # As in Rasa, the ranking starts with the intent decided (rasa-sdk reads it there).
        chosen = {**parsed["intent"], "confidence": round(parsed["intent"]["confidence"], 4)}
        ranking = [{**r, "confidence": round(r["confidence"], 4)}
                   for r in parsed["intent_ranking"] if r["name"] != chosen["name"]]
        parsed["intent"] = chosen
        parsed["intent_ranking"] = ([chosen] if chosen["name"] else []) + ranking[
            :RANKING_SIZE - 1]
        return parsed

    def _clicked(self, text: str, tracker: DialogueTracker, previous: str | None
                 ) -> dict[str, Any] | None:
        """The parse of a button payload, or of a typed reply that means a button."""
        payload = parse_payload(text, self.domain.intents)
        method = "payload"
        if payload is None:
            button = self.button_words.match_any(text, offered_buttons(tracker.events),
                                                 previous or DEFAULT_LANGUAGE)
            payload = parse_payload(str(button["payload"]), self.domain.intents) if (
                button) else None
            method = "button"
        if payload is None:
            return None
        intent, entities = payload
        return {"text": text, "intent": {"name": intent, "confidence": 1.0},
                "intent_ranking": [{"name": intent, "confidence": 1.0}],
                "entities": entities, "language": {"name": previous, "method": method}}

    def _route(self, tracker: DialogueTracker, parsed: dict[str, Any]) -> bool:
        """Decide the unit(s) and set `routing` and the intent; whether a need was routed."""
        decision = self.router.decide(parsed, tracker.slots)
        behind = self._question_with_a_need(tracker, parsed, decision)
        if behind is not None:
            parsed["question"] = decision.intent
            decision = behind
        about_matter = self._question_about_the_matter(tracker, parsed, decision)
        decision = about_matter or decision
        needs = [] if decision.conversational else self.router.needs(
            parsed, tracker.slots, None if decision.needs_clarification else decision.unit)
        parsed["routing"] = {"unit": decision.unit, "intent": decision.intent,
                             "question": parsed.pop("question", None),
                             "confidence": round(decision.confidence, 4),
                             "needs_clarification": decision.needs_clarification,
                             "candidates": decision.candidates,
                             "conversational": decision.conversational}
        unsure_chat = (decision.conversational and about_matter is None
                       and decision.confidence < CONVERSATIONAL_MIN_CONFIDENCE)
        sure = [n for n in needs if not n["possible"]]
        if needs:
            parsed["routing"]["units"] = needs
        if len(sure) > 1 or (sure and decision.needs_clarification):
            parsed["routing"].update(unit=sure[0]["unit"], needs_clarification=False)
            parsed["intent"] = {"name": sure[0]["intent"], "confidence": sure[0]["confidence"]}
        elif (decision.needs_clarification or unsure_chat) and parsed["intent"]["name"]:
            parsed["intent"] = {"name": NLU_FALLBACK,
                                "confidence": parsed["intent"]["confidence"]}
        elif decision.unit and decision.intent != parsed["intent"]["name"]:
            parsed["intent"] = {"name": decision.intent, "confidence": decision.confidence}
        return bool(decision.unit or sure)

    def _yes_fits(self, tracker: DialogueTracker, text: str, lang: str) -> bool:
        """Whether the NLU's yes can stand.

        It can when no buttons were offered, or a yes button was and a yes-word was typed.
        """
        buttons = offered_buttons(tracker.events)
        if not buttons:
            return True
        if not any(str(b.get("payload") or "").startswith(f"/{AFFIRM}") for b in buttons):
            return False
        return self.button_words.says_yes(text, lang)

    def _question_with_a_need(self, tracker: DialogueTracker, parsed: dict[str, Any],
                              decision: RouteDecision) -> RouteDecision | None:
        """With no matter open, a question that names a need routes that need.

        ("How much does a terrace permit cost?" goes to streets, and the question is then
        answered.) A long message read as a language switch is a need that mentions a
        language, so it is weighed the same way.
        """
        if not decision.conversational or decision.intent is None:
            return None
        if _open_units(tracker):
            return None
        switch = decision.intent in self._switch_intents and len(
            _WORD.findall(str(parsed.get("text") or ""))) > MAX_LANGUAGE_SWITCH_WORDS
        # Details outside the form ("I'm Maria, maria@..., we want to change the use of our
        # premises") are an introduction with a need.
        details = decision.intent == FORM_ANSWER_INTENT and tracker.active_loop is None
        if decision.intent not in self.router.table.questions and not (switch or details):
            return None
        behind = self.router.need_behind(parsed, tracker.slots)
        if behind is None and switch:  # neither a switch nor a clear need: ask
            return RouteDecision(decision.intent, decision.confidence, None, None, True,
                                 decision.candidates)
        return behind

    def _question_about_the_matter(self, tracker: DialogueTracker, parsed: dict[str, Any],
                                   decision: RouteDecision) -> RouteDecision | None:
        """With a matter open, a question that names its topic is a question about it.

        ("How much does the terrace permit cost?" while the terrace permit is the matter.)
        """
        if not decision.unit or decision.unit not in _open_units(tracker):
            return None
        # What the message is, the need aside: a question about the need, or more of it.
        rest = [r for r in parsed.get("intent_ranking") or []
                if str(r["name"]) not in self.router.table.routes]
        mass = sum(float(r["confidence"]) for r in rest)
        if not rest or mass <= 0:
            return None
        name, share = str(rest[0]["name"]), float(rest[0]["confidence"]) / mass
        table = self.router.table
        if name not in table.questions | table.about_matter or share < MIN_QUESTION_SHARE:
            return None
        if name in table.about_matter and float(rest[0]["confidence"]) < MIN_REMARK_CONFIDENCE:
            return None  # a complaint must sound like one, not just be the likeliest remark
        parsed["intent"] = {"name": name, "confidence": round(share, 4)}
        return RouteDecision(name, share, None, None, False, decision.candidates, True)

    def _answers_the_form(self, tracker: DialogueTracker, text: str, routed: bool,
                          intent: str | None, confidence: float) -> bool:
        """A short message while the form asks for a detail is that detail.

        Not a need ("Kahvila Kantele" read as food premises), and not a language switch
        ("svenska" typed as the reply language). Nor is a need the NLU is unsure of: while
        the form asks, only a clear need is another matter ("Måste jag uppge mitt namn?"
        read at 0.49 as starting a business is a question to the form, which explains).
        """
        form = self.domain.forms.get(tracker.active_loop or "")
        if form is None or tracker.get_slot(REQUESTED_SLOT) not in form.required_slots:
            return False
        words = len(_WORD.findall(text))
        if intent in self._switch_intents:
            return words <= MAX_FORM_LANGUAGE_ANSWER_WORDS
        if routed and confidence < MIN_NEED_IN_FORM_CONFIDENCE:
            return True
        return routed and "?" not in text and words <= MAX_FORM_ANSWER_WORDS

    def _language_events(self, tracker: DialogueTracker, parsed: dict[str, Any],
                         chosen: str | None = None) -> list[dict[str, Any]]:
        if chosen in ("fi", "sv", "en"):  # the user picked a language in the widget
            if chosen != tracker.get_slot(LANGUAGE_SLOT):
                return [slot_event(LANGUAGE_SLOT, chosen)]
            return []
        language = (parsed.get("language") or {}).get("name")
        method = (parsed.get("language") or {}).get("method")
        if not language or method in ("payload", "fallback"):
            return []
        words = len({w.lower() for w in _WORD.findall(str(parsed.get("text") or ""))})
        first = not any(e.get("event") == "user" for e in tracker.events)
        if method == "langid" and words < MIN_WORDS_TO_SWITCH_LANGUAGE and not first:
            return []  # the first message sets the language, however short
        form = self.domain.forms.get(tracker.active_loop or "")
        if form and tracker.get_slot(REQUESTED_SLOT) in form.required_slots:
            return []  # an answer to the form (a name, an e-mail): it says nothing of language
        if language == tracker.get_slot(LANGUAGE_SLOT):
            return []
        return [slot_event(LANGUAGE_SLOT, language)]

    # -- a message ------------------------------------------------------------------------

    async def handle_message(self, sender_id: str, text: str, *,
                             metadata: dict[str, Any] | None = None,
                             input_channel: str | None = None) -> list[dict[str, Any]]:
        """Process one message of `sender_id`; return the bot's messages."""
        messages, _ = await self.handle(sender_id, text, metadata=metadata,
                                        input_channel=input_channel)
        return messages

    async def handle(self, sender_id: str, text: str, *,
                     metadata: dict[str, Any] | None = None, input_channel: str | None = None,
                     client: str | None = None
                     ) -> tuple[list[dict[str, Any]], DialogueTracker]:
        """Process one message; return the bot's messages and the conversation after it.

        `client` (the caller's address) is whom the NLU queue is fair between; by default
        the conversation.

        Raises:
            ServerBusyError: the conversation's previous turn (in this or another process)
                did not end in time, or no database connection was free in time.
        """
        text = (text or "")[:MAX_MESSAGE_CHARS]
        lock = self._locks.get(sender_id)
        if lock is None:
            lock = self._locks[sender_id] = asyncio.Lock()
        async with lock:
            lease, events = await self._take_turn(sender_id)
            try:
                with runtime.active(self.runtime):
                    return await self._turn(sender_id, text, lease, events, metadata,
                                            input_channel, client or sender_id)
            except BaseException:
                if lease is not None:  # the turn failed before storing (which ends it)
                    await self.in_db(self.store.release, sender_id, lease)
                raise

    async def in_db(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking database work in the database threads, never on the event loop.

        There are as many threads as pooled connections (one for SQLite), so a burst of
        turns queues here (without blocking the loop) rather than in the pool. The context
        (the runtime of the turn) goes along. sqlalchemy's pool TimeoutError becomes
        ServerBusyError.
        """
        if self._db_threads is None:
            # SQLite has one writer at a time: writers in several threads would only wait
            # on each other (its busy handler sleeps); one thread takes them in turn.
            threads = 1 if self.store.db.dialect == "sqlite" else self.settings.db_pool_size
            self._db_threads = ThreadPoolExecutor(max_workers=threads,
                                                  thread_name_prefix="db")
        context = contextvars.copy_context()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._db_threads, partial(context.run, function, *args))
        except PoolTimeoutError as exc:
            raise ServerBusyError("No database connection was free in time.") from exc
        except OperationalError as exc:  # read-only, disk full, server down
            self.store_failed_at = time.monotonic()
            message = unavailable_message(self.store.db.url, exc)
            logger.error(message)
            raise StoreUnavailableError(message) from exc

    async def in_nlu(self, client: str, function: Callable[..., T], *args: Any) -> T:
        """Run NLU work in the NLU threads, fairly between clients (bounded queue).

        The NLU is CPU work in C (the embedding engine) that releases the GIL: in its
        own thread it overlaps other conversations' turns instead of blocking the loop.
        """
        if self._nlu is None:
            self._nlu = FairExecutor(self.settings.nlu_threads,
                                     max_waiting=self.settings.nlu_queue_max,
                                     max_waiting_per_key=self.settings.nlu_queue_per_client,
                                     name="nlu")
        return await self._nlu.run(client, function, *args)

    @property
    def model_id(self) -> str:
        """The id of the model this agent answers with."""
        return str(self.router.nlu.manifest.get("model_id") or "")

    def swap_router(self, router: Router) -> str:
        """Answer with `router` (a newly promoted model) from the next turn; the old id."""
        previous = self.model_id
        self.router = router
        return previous

    def store_failing(self) -> bool:
        """Whether the database refused work within the last `store_failure_window_s`."""
        return self.store_failed_at is not None and (
            time.monotonic() - self.store_failed_at < self.settings.store_failure_window_s)

    async def _take_turn(self, sender_id: str) -> tuple[str | None, list[dict[str, Any]]]:
        """The conversation's lease and its events, once another process's turn has ended.

        SQLite serves one process, whose per-conversation locks already take turns: there
        the events are loaded without a lease.
        """
        if self.store.db.dialect == "sqlite":
            return None, await self.in_db(self.store.load, sender_id)
        lease = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.turn_wait_s
        delay = 0.01
        while (events := await self.in_db(self.store.begin_turn, sender_id, lease,
                                          self.settings.turn_lease_s)) is None:
            if loop.time() + delay > deadline:
                raise ServerBusyError("The conversation's previous message is still being "
                                      "handled.")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
        return lease, events

    async def _turn(self, sender_id: str, text: str, lease: str | None,
                    events: list[dict[str, Any]], metadata: dict[str, Any] | None,
                    input_channel: str | None, client: str
                    ) -> tuple[list[dict[str, Any]], DialogueTracker]:
        """Run the turn on the stored events; store the new ones, ending the lease."""
        tracker = DialogueTracker(sender_id, self.domain, events)
        start = len(tracker.events)
        parsed = await self.in_nlu(client, self.parse, text, tracker)
        chosen = (metadata or {}).get("language")
        messages = await self.processor.handle(
            tracker, text, parsed, extra_events=self._language_events(tracker, parsed, chosen),
            input_channel=input_channel, metadata=metadata)
        await self.in_db(self.store.append, sender_id, tracker.events[start:], start,
                         tracker.get_slot(LANGUAGE_SLOT), lease)
        return [{"recipient_id": sender_id, **{k: v for k, v in m.items() if k != "response"}}
                for m in messages], tracker

    def tracker(self, sender_id: str) -> DialogueTracker:
        """The stored conversation of `sender_id`."""
        return DialogueTracker(sender_id, self.domain, self.store.load(sender_id))

    async def aclose(self) -> None:
        """Release the action runner and the threads (a later message starts them)."""
        await self.runner.aclose()
        if self._nlu is not None:
            self._nlu.shutdown()
            self._nlu = None
        if self._db_threads is not None:
            self._db_threads.shutdown(wait=False)
            self._db_threads = None
