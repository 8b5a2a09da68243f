"""A simulated entrepreneur that holds whole conversations with the assistant.

The user reads each bot message and recognises it by matching it against the
`domain.yml` response variations of the conversation's language (each variation's text
becomes a regex, its placeholders `.+?`; the domain is read at run time, so the user keeps
working when the wording changes). It then answers as a person would, by clicking a button
(sending its payload) or by typing words, and keeps a transcript.

Kinds of conversation (each in fi, sv and en), the first messages taken from
`tests/data/heldout/unseen.jsonl` and `unseen_b.jsonl` (texts never trained on):

- `clicked`: one need, every answer a click where there is a button;
- `typed`: one need, every answer typed;
- `followup`: one need; before saying yes, asks the opening hours and the contact person
  and checks the answers hold the unit's own data from `routing/units.yml`;
- `two_needs`: one message with two needs for two units;
- `second_need`: one need sent, then a second need for another unit: a second enquiry,
  and the form should not ask the name again (counted);
- `change_of_mind`: one need, then "instead ..." another unit's need, and only the new one;
- `language_switch`: asks to continue in another language; every later bot message must
  be in that language.

The outcome: success when the enquiries created are at exactly the expected units (read
from the server's database when the caller can, else from the references in the bot's
texts), user turns from the first need to the first reference, whether the bot said "I
didn't understand" twice in a row, follow-up answers with the unit's data, and the
transcript. Everything random comes from one seeded `random.Random` per conversation.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import statistics
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "domain.yml"
ROUTING = ROOT / "routing"
# Independent enquiries, never trained on (two sets written separately).
UNSEEN = [ROOT / "tests" / "data" / "heldout" / name
          for name in ("unseen.jsonl", "unseen_b.jsonl")]

LANGUAGES = ("fi", "sv", "en")
KINDS = ("clicked", "typed", "followup", "two_needs", "second_need", "change_of_mind",
         "language_switch")
REFERENCE = re.compile(r"\bBP-\d{4}-\d{6}\b")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# "I didn't understand": two of these in a row is what the tests forbid.
NOT_UNDERSTOOD = frozenset({"utter_default", "utter_default_again"})
MAX_USER_TURNS = 30
# The same question this many times over: the conversation is stuck, the user gives up.
MAX_SAME_PROMPT = 4

OFFERS = frozenset({"utter_offer_forward", "utter_offer_forward_several", "utter_offer_again"})
SUMMARIES = frozenset({"utter_summary", "utter_send_again"})
FORM_ASKS = {"utter_ask_name": "name", "utter_ask_company": "company",
             "utter_ask_business_id": "business_id", "utter_ask_contact": "contact",
             "utter_ask_reply_language": "reply_language"}
INVALID = {"utter_invalid_name": "name", "utter_invalid_business_id": "business_id",
           "utter_invalid_contact": "contact", "utter_invalid_reply_language": "reply_language"}
# Bot messages after which the user says the need again in other words.
REPHRASE = frozenset({"utter_ask_rephrase", "utter_default", "utter_default_again",
                      "utter_out_of_scope", "utter_greet", "utter_thanks", "utter_restart",
                      "utter_no_fact_no_matter"})
PROMPTS = (OFFERS | SUMMARIES | set(FORM_ASKS) | set(INVALID) | REPHRASE
           | {"utter_clarify", "utter_ask_add_or_replace", "utter_confirm_stop",
              "utter_ask_correct_field"})

# -- what the simulated people write ------------------------------------------------------

TYPED = {
    "yes": {"fi": ["kyllä kiitos", "joo", "Kyllä, välitä", "joo kiitos", "juu", "kyllä"],
            "sv": ["ja tack", "ja", "Ja, förmedla", "ja gärna", "jo"],
            "en": ["yes please", "yes", "sure", "yep", "Yes, forward it", "go ahead"]},
    "send": {"fi": ["joo lähetä vaan", "Hyväksyn", "Lähetä", "laheta", "kyllä kiitos"],
             "sv": ["ja tack", "Jag godkänner", "Skicka", "skicka det", "ja"],
             "en": ["yes please", "Send it", "I agree", "send", "yes"]},
    "continue": {"fi": ["ei, jatketaan", "ei"], "sv": ["nej, vi fortsätter", "nej"],
                 "en": ["no, continue", "no"]},
    "both": {"fi": ["molemmat", "Molemmat kiitos"], "sv": ["Båda", "båda två"],
             "en": ["both", "Both please"]},
    "only_new": {"fi": ["vain uusi", "Vain se uusi"], "sv": ["bara det nya", "Bara det nya"],
                 "en": ["only the new one", "just the new one"]},
    "no_id": {"fi": ["ei", "ei ole"], "sv": ["nej", "har inte"], "en": ["no", "none"]},
    "reply_language": {"fi": {"fi": "suomi", "sv": "ruotsi", "en": "englanti"},
                       "sv": {"fi": "finska", "sv": "svenska", "en": "engelska"},
                       "en": {"fi": "Finnish", "sv": "Swedish", "en": "English"}},
}
HOURS_QUESTIONS = {
    "fi": ["milloin ootte auki?", "mitkä on teidän aukioloajat", "mihin aikaan ootte paikalla?"],
    "sv": ["när har ni öppet?", "vilka är era öppettider", "hur dags är ni på plats?"],
    "en": ["when are you open?", "what are your opening hours", "what time is the office open?"],
}
CONTACT_QUESTIONS = {
    "fi": ["kuka on yhteyshenkilö?", "kehen voin olla yhteydessä?", "mihin numeroon voin soittaa?"],
    "sv": ["vem är kontaktperson?", "vem kan jag ringa?", "vem ska jag kontakta?"],
    "en": ["who can I call?", "who's the contact person?", "who should I contact about this?"],
}
# (from, to) -> how a person asks to go on in another language.
SWITCH = {
    ("fi", "sv"): ["Voitteko vastata ruotsiksi?", "voisitteko jatkaa ruotsiksi"],
    ("fi", "en"): ["Voitteko vastata englanniksi?", "voidaanko jatkaa englanniksi"],
    ("sv", "fi"): ["kan vi ta det på finska", "Kan du svara på finska?"],
    ("sv", "en"): ["kan vi ta det på engelska", "Kan du svara på engelska?"],
    ("en", "fi"): ["can you answer in Finnish", "could we continue in Finnish please"],
    ("en", "sv"): ["can you answer in Swedish", "could we continue in Swedish?"],
}
INSTEAD = {"fi": ["Itse asiassa, sen sijaan: {text}", "Sen sijaan: {text}"],
           "sv": ["Förresten, i stället: {text}", "I stället: {text}"],
           "en": ["Actually, instead: {text}", "Actually, instead of that: {text}"]}
ANOTHER = {"fi": ["Toinen asia vielä: {text}", "{text}"],
           "sv": ["En sak till: {text}", "{text}"],
           "en": ["One more thing: {text}", "{text}"]}
NUDGE = {"fi": ["no niin?", "haloo?"], "sv": ["hallå?", "nå?"], "en": ["hello?", "and now?"]}
NAMES = {"fi": ["Maija Virtanen", "Juha Laaksonen", "Sanna Heikkilä", "Timo Koskinen",
                "Riikka Salo", "Antti Nieminen"],
         "sv": ["Anna Lindqvist", "Johan Sundström", "Maria Holmberg", "Erik Nyström",
                "Sofia Blomqvist"],
         "en": ["Alex Carter", "Sam Taylor", "Jordan Miles", "Chris Baker", "Emma Wilson"]}
COMPANIES = {"fi": ["Kahvila Kuppi Oy", "Porvoon Puu ja Rakennus Oy", "Rantasauna Tmi",
                    "Vanhan kaupungin Leipomo Oy", "Kilpi Konepaja Oy"],
             "sv": ["Borgå Bageri Ab", "Skärgårdens Bygg Ab", "Hamnkaféet",
                    "Ådalens Trä Ab"],
             "en": ["Nordic Widgets Ltd", "Harbour Coffee Ltd", "Riverside Studio Oy",
                    "Baltic Machines Ltd"]}
ID_LABEL = {"fi": "Y-tunnus", "sv": "FO-nummer", "en": "business ID"}
BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def business_id(rng: random.Random) -> str:
    """A Finnish business ID with a valid check digit (such as 3416721-2)."""
    while True:
        digits = [rng.randrange(10) for _ in range(7)]
        rest = sum(d * w for d, w in zip(digits, BUSINESS_ID_WEIGHTS, strict=True)) % 11
        if rest != 1:  # remainder 1 has no valid check digit
            return "".join(map(str, digits)) + f"-{0 if rest == 0 else 11 - rest}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]+", ".", plain.lower()).strip(".")


# -- what the bot says: domain.yml responses as patterns ----------------------------------

@dataclass(frozen=True)
class Variation:
    """One response variation: its name, language, pattern and literal length."""

    name: str
    language: str | None
    pattern: re.Pattern[str]
    literal: int


def variation_pattern(text: str) -> re.Pattern[str]:
    """The regex of a response text: literal parts escaped, placeholders `.+?`."""
    parts = PLACEHOLDER.split(text.strip())
    # split() alternates literal text and placeholder names
    body = "".join(re.escape(p) if i % 2 == 0 else ".+?" for i, p in enumerate(parts))
    return re.compile(rf"\A{body}\Z", re.DOTALL)


class ResponseMatcher:
    """Recognises the bot's messages as `domain.yml` responses, per language."""

    def __init__(self, domain_path: Path = DOMAIN) -> None:
        responses = yaml.safe_load(domain_path.read_text(encoding="utf-8"))["responses"]
        self.variations: list[Variation] = []
        for name, variations in responses.items():
            for variation in variations:
                text = variation.get("text")
                if not text:
                    continue
                language = next((c.get("value") for c in variation.get("condition") or []
                                 if c.get("name") == "language"), None)
                literal = len(PLACEHOLDER.sub("", text))
                self.variations.append(Variation(name, language, variation_pattern(text),
                                                 literal))
        # Most specific first: a text that fits "{fact} (Source: {source})" and a longer
        # template is the longer template.
        self.variations.sort(key=lambda v: -v.literal)

    def name(self, text: str, language: str) -> str | None:
        """The response `text` is, in `language` (None when it is none of them)."""
        text = text.strip()
        for v in self.variations:
            if v.language in (language, None) and v.pattern.match(text):
                return v.name
        return None

    def languages(self, text: str) -> set[str]:
        """The languages whose variations `text` fits (empty: no response of the domain)."""
        text = text.strip()
        return {v.language or lang for v in self.variations for lang in LANGUAGES
                if v.language in (lang, None) and v.pattern.match(text)}


# -- the routing table, as the user knows it ---------------------------------------------

@dataclass(frozen=True)
class UnitFacts:
    """What the user may check in the bot's answers about a unit."""

    id: str
    names: dict[str, str]
    emails: tuple[str, ...]
    phone: str
    times: tuple[str, ...]  # "08:00" ...
    referral: bool
    non_business: bool

    @property
    def takes_enquiries(self) -> bool:
        """The bot forwards enquiries to this unit (not a referral, a business matter)."""
        return not (self.referral or self.non_business)

    def hours_in(self, text: str) -> bool:
        """`text` names one of the unit's opening times (8.00, 08:00, 8:00 ...)."""
        for time in self.times:
            hour, minute = time.split(":")
            if re.search(rf"(?<!\d)0?{int(hour)}[.:]{minute}(?!\d)", text):
                return True
        return False

    def contact_in(self, text: str) -> bool:
        """`text` gives one of the unit's contact e-mails or its phone number."""
        squeezed = re.sub(r"\s+", "", text)
        return (any(e.lower() in text.lower() for e in self.emails)
                or re.sub(r"\s+", "", self.phone) in squeezed)


class RoutingFacts:
    """`routing/units.yml` and `routing/routes.yml`, read with PyYAML."""

    def __init__(self, routing_dir: Path = ROUTING) -> None:
        units = yaml.safe_load((routing_dir / "units.yml").read_text(encoding="utf-8"))
        routes = yaml.safe_load((routing_dir / "routes.yml").read_text(encoding="utf-8"))
        self.units: dict[str, UnitFacts] = {}
        for unit in units["units"]:
            times = sorted(set(re.findall(r"\b\d{1,2}:\d{2}\b", json.dumps(
                unit.get("opening_hours") or {}, default=str))))
            self.units[unit["id"]] = UnitFacts(
                id=unit["id"], names=dict(unit["names"]),
                emails=tuple(c["email"] for c in unit.get("contacts") or []),
                phone=str(unit.get("phone") or ""), times=tuple(times),
                referral=bool(unit.get("referral")),
                non_business=bool(unit.get("non_business")))
        self.intent_unit = {r["intent"]: r["unit"] for r in routes["routes"]}

    def unit_of_payload(self, payload: str) -> str | None:
        """The unit a button payload such as "/terrace_permit" routes to."""
        found = re.match(r"^/(\w+)", payload.strip())
        return self.intent_unit.get(found.group(1)) if found else None

    def unit_named(self, name: str) -> str | None:
        """The unit of a display name in any language."""
        for unit in self.units.values():
            if name.strip() in unit.names.values():
                return unit.id
        return None


# -- the first messages -------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One independent enquiry of tests/data/heldout/unseen.jsonl."""

    text: str
    language: str
    units: tuple[str, ...]
    kind: str


def load_lines(paths: list[Path] | None = None) -> list[Line]:
    """Every line of the held-out files."""
    lines = []
    for path in paths or UNSEEN:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                item = json.loads(raw)
                lines.append(Line(item["text"], item["language"], tuple(item["units"]),
                                  item.get("kind") or ""))
    return lines


@dataclass
class Need:
    """What the user wants: its first words, its unit(s), other words for it."""

    text: str
    units: tuple[str, ...]
    alternates: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    """One conversation to hold."""

    kind: str
    language: str
    sender: str
    needs: list[Need]
    expected_units: list[str]
    style: str  # "click", "type" or "mixed"
    switch_to: str | None = None
    switch_at: str | None = None  # "offer" or "form"
    seed: str = ""


class ScenarioMaker:
    """Builds seeded scenarios from the held-out lines."""

    def __init__(self, facts: RoutingFacts, lines: list[Line] | None = None) -> None:
        self.facts = facts
        self.lines = lines if lines is not None else load_lines()

    def _ok(self, line: Line) -> bool:
        return all(u in self.facts.units and self.facts.units[u].takes_enquiries
                   for u in line.units)

    def singles(self, language: str) -> list[Line]:
        """One-need lines of `language` for units that take enquiries."""
        return [x for x in self.lines if x.language == language and len(x.units) == 1
                and x.kind != "two_needs" and self._ok(x)]

    def doubles(self, language: str) -> list[Line]:
        """Two-need lines of `language` whose units both take enquiries."""
        return [x for x in self.lines if x.language == language and x.kind == "two_needs"
                and len(set(x.units)) == 2 and self._ok(x)]

    def _need(self, line: Line, pool: list[Line], rng: random.Random) -> Need:
        others = [x.text for x in pool if set(x.units) == set(line.units) and x != line]
        rng.shuffle(others)
        if not others and len(line.units) > 1:  # say the two needs with two single lines
            singles = self.singles(line.language)
            parts = [rng.choice([x.text for x in singles if x.units == (u,)])
                     for u in line.units if any(x.units == (u,) for x in singles)]
            others = [" ".join(parts)] if len(parts) == len(line.units) else []
        return Need(line.text, line.units, others[:3])

    def make(self, kind: str, language: str, index: int, seed: int, tag: str = "sim"
             ) -> Scenario:
        """The `index`-th scenario of a kind and language (the same for the same seed)."""
        key = f"{seed}-{kind}-{language}-{index}"
        rng = random.Random(key)
        pool = self.doubles(language) if kind == "two_needs" else self.singles(language)
        # Walk the pool in a seeded order so that consecutive indexes take new lines.
        order = list(pool)
        random.Random(f"{seed}-{kind}-{language}").shuffle(order)
        first = order[index % len(order)]
        needs = [self._need(first, pool, rng)]
        if kind in ("second_need", "change_of_mind"):
            second = rng.choice([x for x in pool if x.units[0] != first.units[0]])
            template = rng.choice((INSTEAD if kind == "change_of_mind" else ANOTHER)[language])
            need = self._need(second, pool, rng)
            need.text = template.format(text=second.text)
            needs.append(need)
        expected = {"change_of_mind": list(needs[-1].units)}.get(
            kind, [u for n in needs for u in n.units])
        style = {"clicked": "click", "typed": "type"}.get(kind, "mixed")
        switch_to = switch_at = None
        if kind == "language_switch":
            switch_to = rng.choice([x for x in LANGUAGES if x != language])
            switch_at = rng.choice(["offer", "form"])
        sender = f"{tag}-{seed}-{kind}-{language}-{index}".replace("_", "-")
        return Scenario(kind, language, sender, needs, expected, style, switch_to, switch_at,
                        key)


# -- the outcome --------------------------------------------------------------------------

@dataclass
class Outcome:
    """What came of one conversation."""

    kind: str
    language: str
    sender: str
    expected_units: list[str]
    enquiry_units: list[str] = field(default_factory=list)
    units_from: str = "bot texts"
    references: list[str] = field(default_factory=list)
    user_turns: int = 0
    turns_to_reference: int | None = None
    double_not_understood: bool = False
    followups_asked: int = 0
    followups_answered: int = 0
    name_asked_again: int = 0
    language_ok: bool | None = None
    wrong_language: list[str] = field(default_factory=list)
    gave_up: str | None = None
    notes: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def units_ok(self) -> bool:
        """The enquiries went to exactly the expected units."""
        return sorted(self.enquiry_units) == sorted(self.expected_units)

    @property
    def success(self) -> bool:
        """Right units; after a language switch, also every later message in the new one."""
        return self.units_ok and self.language_ok is not False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived fields."""
        return {**asdict(self), "success": self.success, "units_ok": self.units_ok}


def enquiry_units_sqlite(database: str | Path, sender: str) -> list[tuple[str, str]]:
    """(unit, reference) of the sender's enquiries in a SQLite database file or URL."""
    path = str(database)
    if path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT unit, reference FROM enquiry WHERE sender_id = ? "
                            "ORDER BY id", (sender,)).fetchall()
    return [(str(u), str(r)) for u, r in rows]


# -- the user -----------------------------------------------------------------------------

Send = Callable[[str], Awaitable[list[dict[str, Any]]]]


class SimulatedUser:
    """Holds one conversation of a `Scenario` over a `send(text) -> bot messages` function."""

    def __init__(self, scenario: Scenario, matcher: ResponseMatcher, facts: RoutingFacts
                 ) -> None:
        self.s = scenario
        self.matcher = matcher
        self.facts = facts
        self.rng = random.Random(scenario.seed or scenario.sender)
        self.language = scenario.language  # the language the user writes and expects
        self.need_index = 0
        self.alternates = [list(n.alternates) for n in scenario.needs]
        self.changed_mind = False
        self.switched = False
        self.followup_step = 0 if scenario.kind == "followup" else 2
        self.awaiting: str | None = None  # "hours" / "contact": checking the next answer
        self.prompt_counts: dict[str, int] = {}
        self.last_bot: str | None = None
        self.last_prompt: tuple[str, dict[str, Any]] | None = None
        self.nudged = False
        self.submitted = 0
        self.name = self.rng.choice(NAMES[scenario.language])
        self.company = self.rng.choice(COMPANIES[scenario.language])
        self.business_id = business_id(self.rng)
        self.with_id = self.rng.random() < 0.4
        self.email = f"{_ascii(self.name)}@example.fi"
        self.out = Outcome(scenario.kind, scenario.language, scenario.sender,
                           list(scenario.expected_units))
        if scenario.switch_to:
            self.out.language_ok = True

    # -- the loop ----------------------------------------------------------------------

    async def run(self, send: Send) -> Outcome:
        """Hold the conversation to its end (or give up); return the outcome."""
        text: str | None = self.s.needs[0].text
        while text is not None:
            if self.out.user_turns >= MAX_USER_TURNS:
                self.out.gave_up = f"no end after {MAX_USER_TURNS} user turns"
                break
            self.out.user_turns += 1
            self.out.transcript.append({"user": text})
            messages = await send(text)
            text = self.react(messages)
        self.out.enquiry_units = self._units_from_texts()
        return self.out

    def _click_or_type(self) -> bool:
        """True: this answer is a click."""
        if self.s.style == "mixed":
            return self.rng.random() < 0.5
        return self.s.style == "click"

    def _typed(self, what: str) -> str:
        return self.rng.choice(TYPED[what][self.language])

    @staticmethod
    def _payload(buttons: list[dict[str, Any]], startswith: str) -> dict[str, Any] | None:
        return next((b for b in buttons if str(b.get("payload", "")).startswith(startswith)),
                    None)

    def _answer_button(self, buttons: list[dict[str, Any]], payload: str, typed: str
                       ) -> str:
        button = self._payload(buttons, payload)
        if button is not None and self._click_or_type():
            return str(button["payload"])
        return self._typed(typed)

    # -- reading the bot ---------------------------------------------------------------

    def _read(self, messages: list[dict[str, Any]]) -> list[tuple[str | None, dict]]:
        """Each message with the response it is, recorded in the transcript."""
        read = []
        for m in messages:
            text = str(m.get("text") or "")
            if not text:
                continue
            name = self.matcher.name(text, self.language)
            if name is None:
                langs = self.matcher.languages(text)
                other = sorted(langs - {self.language})
                if other:
                    name = self.matcher.name(text, other[0])
                    self.out.notes.append(f"bot answered in {other[0]}: {name}")
            if self.switched and self.s.switch_to:
                langs = self.matcher.languages(text)
                if langs and self.s.switch_to not in langs:
                    self.out.language_ok = False
                    self.out.wrong_language.append(text[:120])
            buttons = m.get("buttons") or []
            entry: dict[str, Any] = {"bot": text, "response": name}
            if buttons:
                entry["buttons"] = [f"{b.get('title')} {b.get('payload')}" for b in buttons]
            self.out.transcript.append(entry)
            if name in NOT_UNDERSTOOD and self.last_bot in NOT_UNDERSTOOD:
                self.out.double_not_understood = True
            self.last_bot = name
            read.append((name, m))
        return read

    def _units_from_texts(self) -> list[str]:
        units = []
        for entry in self.out.transcript:
            if entry.get("response") == "utter_submitted_line":
                ref = REFERENCE.search(entry["bot"])
                head = entry["bot"].split(": ", 1)[0] if ref else ""
                units.append(self.facts.unit_named(head) or f"? {head}")
        return units

    # -- answering ---------------------------------------------------------------------

    def react(self, messages: list[dict[str, Any]]) -> str | None:
        """The user's next message after the bot's `messages` (None: the conversation ends)."""
        read = self._read(messages)
        text = "\n".join(str(m.get("text") or "") for _, m in read)
        names = [n for n, _ in read]
        self._check_followup(text)
        if self.s.kind == "second_need" and self.submitted and "utter_ask_name" in names:
            self.out.name_asked_again += 1
        refs = [r for r in REFERENCE.findall(text) if r not in self.out.references]
        if refs and any(n in ("utter_submitted", "utter_submitted_line") for n in names):
            self.out.references += refs
            self.submitted += 1
            if self.out.turns_to_reference is None:
                self.out.turns_to_reference = self.out.user_turns
            self.need_index += 1
            if self.s.kind == "change_of_mind" or self.need_index >= len(self.s.needs):
                return None
            self.followup_step = 2
            self.last_prompt = None
            return self.s.needs[self.need_index].text
        prompt = next(((n, m) for n, m in reversed(read) if n in PROMPTS), None)
        if prompt is None and not read:
            # Silence: a person asks whether anything is happening, once.
            self.out.notes.append("bot said nothing")
            if self.nudged:
                self.out.gave_up = "the bot said nothing, twice"
                return None
            self.nudged = True
            return self.rng.choice(NUDGE[self.language])
        if prompt is None and self.last_prompt is not None and self.last_prompt[0] in (
                OFFERS | SUMMARIES | set(FORM_ASKS)):
            # No new question ("Of course, let's continue in Swedish."): a person answers
            # the question still open.
            self.out.notes.append("no question in the bot's answer: " + ", ".join(
                str(n) for n in names))
            prompt = self.last_prompt
        if prompt is None:
            return self._rephrase("no question in the bot's answer: " + ", ".join(
                str(n) for n in names))
        self.last_prompt = prompt
        name, message = prompt
        self.prompt_counts[name] = self.prompt_counts.get(name, 0) + 1
        if self.prompt_counts[name] > MAX_SAME_PROMPT:
            self.out.gave_up = f"asked {name} {self.prompt_counts[name]} times"
            return None
        buttons = message.get("buttons") or []
        return self._answer(name, buttons)

    def _answer(self, name: str, buttons: list[dict[str, Any]]) -> str | None:
        if name in INVALID:
            self.out.notes.append(f"bot rejected the {INVALID[name]}: {name}")
            return self._form_answer(INVALID[name], buttons)
        if name in FORM_ASKS:
            if name == "utter_ask_name" and self._switch_now("form"):
                return self._switch_message()
            return self._form_answer(FORM_ASKS[name], buttons)
        if name in OFFERS:
            return self._at_offer(buttons)
        if name in SUMMARIES:
            return self._answer_button(buttons, "/affirm", "send")
        if name == "utter_ask_add_or_replace":
            wanted = "only_new" if self.s.kind == "change_of_mind" else "both"
            payload = "/replace_matter" if wanted == "only_new" else "/add_matter"
            return self._answer_button(buttons, payload, wanted)
        if name == "utter_confirm_stop":
            self.out.notes.append("bot asked whether to stop")
            return self._answer_button(buttons, "/deny", "continue")
        if name == "utter_clarify":
            return self._clarify(buttons)
        if name == "utter_ask_correct_field":
            self.out.notes.append("bot asked which detail to correct")
            return self._answer_button([], "/affirm", "send")
        if name == "utter_default_again" and buttons and self._click_or_type():
            return str(buttons[0]["payload"])
        return self._rephrase(f"bot said {name}")

    def _current(self) -> Need:
        return self.s.needs[min(self.need_index, len(self.s.needs) - 1)]

    def _rephrase(self, why: str) -> str | None:
        """Say the current need in other words; give up when there are none left."""
        left = self.alternates[min(self.need_index, len(self.s.needs) - 1)]
        self.out.notes.append(why)
        if not left:
            self.out.gave_up = f"nothing more to say after: {why}"
            return None
        return left.pop(0)

    def _clarify(self, buttons: list[dict[str, Any]]) -> str | None:
        wanted = set(self._current().units)
        for button in buttons:
            if self.facts.unit_of_payload(str(button.get("payload"))) in wanted:
                return str(button["payload"]) if self._click_or_type() else str(button["title"])
        other = self._payload(buttons, "/something_else")
        if other is not None:
            return str(other["payload"]) if self._click_or_type() else str(other["title"])
        return self._rephrase("no fitting button")

    def _at_offer(self, buttons: list[dict[str, Any]]) -> str:
        if self.followup_step == 0:
            self.followup_step, self.awaiting = 1, "hours"
            self.out.followups_asked += 1
            return self.rng.choice(HOURS_QUESTIONS[self.language])
        if self.followup_step == 1:
            self.followup_step, self.awaiting = 2, "contact"
            self.out.followups_asked += 1
            return self.rng.choice(CONTACT_QUESTIONS[self.language])
        if self.s.kind == "change_of_mind" and not self.changed_mind:
            self.changed_mind = True
            self.need_index = 1
            return self.s.needs[1].text
        if self._switch_now("offer"):
            return self._switch_message()
        if len(self._current().units) > 1 and self._payload(buttons, "/add_matter"):
            # "You may also have mentioned another matter ... [Forward both]": wanted.
            return self._answer_button(buttons, "/add_matter", "both")
        return self._answer_button(buttons, "/affirm", "yes")

    def _check_followup(self, text: str) -> None:
        if self.awaiting is None:
            return
        unit = self.facts.units[self._current().units[0]]
        found = unit.hours_in(text) if self.awaiting == "hours" else unit.contact_in(text)
        if found:
            self.out.followups_answered += 1
        else:
            self.out.notes.append(f"the {self.awaiting} answer lacks {unit.id}'s data")
        self.awaiting = None

    def _switch_now(self, where: str) -> bool:
        return bool(self.s.switch_to) and not self.switched and self.s.switch_at == where

    def _switch_message(self) -> str:
        assert self.s.switch_to is not None
        text = self.rng.choice(SWITCH[(self.language, self.s.switch_to)])
        self.switched = True
        self.language = self.s.switch_to
        return text

    def _form_answer(self, slot: str, buttons: list[dict[str, Any]]) -> str:
        if slot == "name":
            return self.name
        if slot == "company":
            if not self.with_id:
                return self.company
            return self.rng.choice([f"{self.company} {self.business_id}",
                                    f"{self.company}, {ID_LABEL[self.language]} "
                                    f"{self.business_id}"])
        if slot == "business_id":
            return self.business_id if self.with_id else self._typed("no_id")
        if slot == "contact":
            return self.email
        wanted = self.language
        button = next((b for b in buttons if f'"{wanted}"' in str(b.get("payload"))), None)
        if button is not None and self._click_or_type():
            return str(button["payload"])
        return TYPED["reply_language"][self.language][wanted]


# -- many conversations -------------------------------------------------------------------

def scenarios(kinds: Iterable[str], languages: Iterable[str], per_kind: int, seed: int,
              facts: RoutingFacts, tag: str = "sim") -> list[Scenario]:
    """`per_kind` scenarios for every kind and language, the same for the same seed."""
    maker = ScenarioMaker(facts)
    return [maker.make(kind, lang, i, seed, tag) for kind in kinds for lang in languages
            for i in range(per_kind)]


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Success per kind and language, per language, turns, follow-ups, double defaults."""
    table: dict[str, dict[str, list[int]]] = {}
    for o in outcomes:
        cell = table.setdefault(o.kind, {}).setdefault(o.language, [0, 0])
        cell[0] += o.success
        cell[1] += 1
    per_language = {}
    for lang in LANGUAGES:
        mine = [o for o in outcomes if o.language == lang]
        if mine:
            per_language[lang] = sum(o.success for o in mine) / len(mine)
    turns = [o.turns_to_reference for o in outcomes if o.turns_to_reference is not None]
    asked = sum(o.followups_asked for o in outcomes)
    return {
        "conversations": len(outcomes),
        "success": {k: {lang: {"ok": c[0], "n": c[1]} for lang, c in v.items()}
                    for k, v in table.items()},
        "success_per_language": per_language,
        "turns_to_reference_median": statistics.median(turns) if turns else None,
        "turns_to_reference_max": max(turns) if turns else None,
        "followups_asked": asked,
        "followups_answered_with_unit_data": sum(o.followups_answered for o in outcomes),
        "followups_answered_pct": (100 * sum(o.followups_answered for o in outcomes) / asked
                                   if asked else None),
        "double_not_understood": sum(o.double_not_understood for o in outcomes),
        # What the simulated user noticed on the way, in every conversation (not only
        # the failed ones): "bot said nothing", "bot rejected the name" ...
        "notes": dict(Counter(re.sub(r"^(no question in the bot's answer: ).*?"
                                     r"(utter_language_switched)?$", r"\1\2", n)
                              for o in outcomes for n in set(o.notes)).most_common()),
        "name_asked_again": sum(o.name_asked_again for o in outcomes),
        "language_switch_wrong_language": sum(o.language_ok is False for o in outcomes),
    }


def format_table(summary: dict[str, Any]) -> str:
    """The summary as a plain-text table."""
    lines = [f"{'kind':16}" + "".join(f"{lang:>10}" for lang in LANGUAGES)]
    for kind in KINDS:
        row = summary["success"].get(kind)
        if not row:
            continue
        cells = [f"{row[lang]['ok']}/{row[lang]['n']}" if lang in row else "-"
                 for lang in LANGUAGES]
        lines.append(f"{kind:16}" + "".join(f"{c:>10}" for c in cells))
    per = summary["success_per_language"]
    lines.append(f"{'overall':16}" + "".join(
        f"{100 * per[lang]:>9.1f}%" if lang in per else f"{'-':>10}" for lang in LANGUAGES))
    pct = summary["followups_answered_pct"]
    lines += [
        f"user turns to the first reference: median {summary['turns_to_reference_median']}, "
        f"max {summary['turns_to_reference_max']}",
        f"follow-up questions answered with the unit's data: "
        f"{summary['followups_answered_with_unit_data']}/{summary['followups_asked']}"
        + (f" ({pct:.1f} %)" if pct is not None else ""),
        f"double \"didn't understand\": {summary['double_not_understood']}",
        f"name asked again in second_need: {summary['name_asked_again']}",
        f"language_switch with a message in the old language: "
        f"{summary['language_switch_wrong_language']}",
    ]
    return "\n".join(lines)
