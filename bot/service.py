"""The NLU and the routing table together: what `bpbot route` and the server call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bot.errors import InvalidModelError
from bot.nlu.embedders import Embedder
from bot.nlu.model import NLUModel, load_model
from bot.routing import RouteDecision, RoutingTable, load_routing

# Several needs in one message: sentences, and clauses joined by these words.
_SENTENCES = re.compile(r"(?<=[.!?;:])\s+|\n+")
_CONNECTOR_WORDS = (r"ja|sekä|lisäksi|lisäks|myös|samalla|and|also|plus|as well as|besides|"
                    r"separately|additionally|och|o|samt|dessutom|även|också|samtidigt")
_CONNECTORS = re.compile(rf",?\s+\b(?:{_CONNECTOR_WORDS})\b\s+", re.IGNORECASE)
_STARTS_JOINED = re.compile(rf"^(?:{_CONNECTOR_WORDS})\b", re.IGNORECASE)
# Words that make a clause ask for something rather than tell the background ("we have
# thirty employees"): word beginnings, so that endings and spoken forms match. A clause
# without one can still be a need, but the assistant then offers it instead of deciding.
_REQUEST = re.compile(
    r"\?|\b(?:tarvi|tartt|halu|pitä|pitäis|täyty|mite|mistä|mihin|voi|saa|onk|kuinka|"
    r"kannatta|kysy|hae|haem|haen|hake|etsi|aio|aikoo|suunnittel|apu|apua|neuvo|tieto|"
    r"behöv|vill|skulle|hur|kan|får|måste|önsk|sök|undr|ansök|planer|tänk|hjälp|råd|info|"
    r"need|want|would|'d like|how|where|can|could|may|looking|apply|wonder|must|have to|"
    r"plan|intend|help|advice|info)", re.IGNORECASE)
# A clause this short ("ympäristöluvan maalaamolle") is a request even without such a word.
MAX_PLAIN_REQUEST_WORDS = 4
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_CLAUSE_WORDS = 2
MAX_CLAUSES = 8
# A clause is a need of its own when it is this clear on its own and the whole message
# gives its unit at least this share: a background sentence ("we have four employees")
# reads as a need alone, but not within the whole message.
MIN_NEED_CONFIDENCE = 0.7
MIN_NEED_SHARE = 0.1
# A very clear clause that the whole message does not support is a possible need: the
# bot offers it ("do you also need ...?") instead of deciding.
MIN_POSSIBLE_NEED_CONFIDENCE = 0.9
# A question names a need when the routable intents carry at least this much of its ranking.
MIN_NEED_BEHIND_MASS = 0.2


def is_request(clause: str) -> bool:
    """Whether a clause asks for something, rather than telling the background."""
    return bool(_REQUEST.search(clause)) or len(_WORD.findall(clause)) <= (
        MAX_PLAIN_REQUEST_WORDS)


class Clause(NamedTuple):
    """A part of a message that could carry a need of its own."""

    text: str
    joined: bool  # joined on with a word such as "also"
    request: bool  # asks for something (or continues a clause that does)


def clauses(text: str) -> list[Clause]:
    """The sentences and joined clauses of a message that could each carry a need.

    A clause joined within a sentence continues the request of the clause before it: in
    "we want to demolish a warehouse and buy the plot next to it", both are wanted.
    """
    parts: list[Clause] = []
    for sentence in _SENTENCES.split(text):
        pieces = _CONNECTORS.split(sentence)
        asked = False
        for i, piece in enumerate(pieces):
            piece = piece.strip(" ,;:-")
            asked = is_request(piece) or (asked and i > 0)
            if len(_WORD.findall(piece)) >= MIN_CLAUSE_WORDS:
                parts.append(Clause(piece, i > 0 or bool(_STARTS_JOINED.match(piece)),
                                    asked))
    return parts[:MAX_CLAUSES]


@dataclass
class Router:
    """Parse a message and decide its unit."""

    nlu: NLUModel
    table: RoutingTable

    @classmethod
    def load(cls, model: str | Path, routing: str | Path, *,
             embedder: Embedder | None = None, serving: bool = False,
             encoders: int = 2) -> Router:
        """Load a model folder (or the newest in a folder) and the routing table.

        `embedder`: one already loaded, to share when the model was trained with it (a
        model swap then skips loading the embedding model again). `serving`, `encoders`: see
        `load_model`.
        """
        if embedder is not None:
            try:
                return cls(load_model(model, embedder=embedder), load_routing(routing))
            except InvalidModelError:  # trained with another embedder: load its own
                pass
        return cls(load_model(model, serving=serving, encoders=encoders), load_routing(routing))

    def decide(self, parsed: dict[str, Any], slots: dict[str, Any] | None = None
               ) -> RouteDecision:
        """The unit for a parse result, with the model's thresholds."""
        cfg = self.nlu.classifier_config
        return self.table.decide(
            parsed["intent_ranking"], parsed["entities"], slots,
            fallback_threshold=cfg.fallback_threshold, ambiguity_margin=cfg.ambiguity_margin,
        )

    def needs(self, parsed: dict[str, Any], slots: dict[str, Any] | None = None,
              decided: str | None = None) -> list[dict[str, Any]]:
        """Every unit a message needs, in order, when its clauses name two or more.

        Each clause is classified on its own (one batch); a clause that is clearly a
        routable need adds its unit. Returns [] for a message with one need (or none).
        `decided` is the unit the message as a whole is routed to: when only one clause is
        clearly a need and it names another unit, both readings are defensible, so the
        whole message keeps its unit and the clause's unit is offered (marked possible).
        """
        parts = clauses(str(parsed.get("text") or ""))
        if len(parts) < 2:
            return []
        rankings = self.nlu.rank([p.text for p in parts])
        share: dict[str, float] = {}
        for item in parsed.get("intent_ranking") or []:  # best with every intent ranked
            unit = self.table.unit_for(str(item["name"]))
            if unit is not None:
                share[unit[0]] = share.get(unit[0], 0.0) + float(item["confidence"])
        found: dict[str, dict[str, Any]] = {}
        context: list[str] = []
        for (part, joined, request), ranking in zip(parts, rankings, strict=True):
            decision = self.decide({"intent_ranking": ranking,
                                    "entities": parsed.get("entities") or []}, slots)
            clear = (decision.unit is not None and not decision.needs_clarification
                     and decision.confidence >= MIN_NEED_CONFIDENCE)
            shared = share.get(str(decision.unit), 0.0) >= MIN_NEED_SHARE
            supported = shared and request
            possible = (shared or joined
                        or decision.confidence >= MIN_POSSIBLE_NEED_CONFIDENCE)
            if not clear or not (supported or possible):
                if not found:
                    context.append(part)  # background before the first need
                continue
            need = found.setdefault(str(decision.unit), {
                "unit": decision.unit, "intent": decision.intent,
                "confidence": round(decision.confidence, 4), "parts": [*context],
                "possible": not supported})
            need["parts"].append(part)
            need["possible"] = need["possible"] and not supported
        rows = [{"unit": n["unit"], "intent": n["intent"], "confidence": n["confidence"],
                 "text": "; ".join(n["parts"]), "possible": n["possible"]}
                for n in found.values()]
        sure = [n for n in rows if not n["possible"]]
        if decided is not None and len(sure) == 1 and sure[0]["unit"] != decided:
            return [{**n, "possible": True} for n in rows if n["unit"] != decided]
        return rows if len(rows) > 1 and sure else []

    def need_behind(self, parsed: dict[str, Any], slots: dict[str, Any] | None = None
                    ) -> RouteDecision | None:
        """The need a question names ("how much does a terrace permit cost?"), when clear.

        The routable intents of the ranking are weighed on their own; None when they carry
        too little of it or do not agree on one unit.
        """
        routable = [r for r in parsed.get("intent_ranking") or []
                    if str(r["name"]) in self.table.routes]
        mass = sum(float(r["confidence"]) for r in routable)
        if mass < MIN_NEED_BEHIND_MASS:
            return None
        ranking = [{"name": r["name"], "confidence": float(r["confidence"]) / mass}
                   for r in routable]
        decision = self.decide({"intent_ranking": ranking,
                                "entities": parsed.get("entities") or []}, slots)
        return decision if decision.unit and not decision.needs_clarification else None

    def route(self, text: str, previous_language: str | None = None,
              slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `bpbot route --jsonl` object for one message."""
        parsed = self.nlu.parse(text, previous_language, ranking_size=0)
        decision = self.decide(parsed, slots)
        if decision.conversational and decision.intent in self.table.questions:
            decision = self.need_behind(parsed, slots) or decision
        found = [] if decision.conversational else self.needs(
            parsed, slots, None if decision.needs_clarification else decision.unit)
        sure = [n for n in found if not n["possible"]]
        several: dict[str, Any] = {}
        if len(sure) > 1:
            several["units"] = [n["unit"] for n in sure]
        if len(sure) > 1 or (sure and decision.needs_clarification):
            decision = self.decide({"intent_ranking": [
                {"name": sure[0]["intent"], "confidence": sure[0]["confidence"]}],
                "entities": parsed["entities"]}, slots)
        if any(n["possible"] for n in found):
            several["possible_units"] = [n["unit"] for n in found if n["possible"]]
        return {
            "text": text,
            "language": parsed["language"]["name"],
            "intent": decision.intent,
            "confidence": round(decision.confidence, 4),
            "unit": None if decision.needs_clarification else decision.unit,
            "needs_clarification": decision.needs_clarification,
            "candidates": decision.candidates,
            "contact": decision.contact.email if decision.contact else None,
            "entities": [{k: e[k] for k in ("entity", "value", "start", "end")}
                         for e in parsed["entities"]],
            **several,
        }

    def describe(self, result: dict[str, Any]) -> str:
        """Summarise a route result in one line, in the message's language."""
        lang = result["language"]
        if result["unit"]:
            unit = self.table.units[result["unit"]]
            return (f"[{lang}] {result['intent']} ({result['confidence']:.2f}) -> "
                    f"{unit.names.get(lang)} <{result['contact']}>")
        if result["needs_clarification"]:
            options = ", ".join(
                self.table.units[c["unit"]].names.get(lang) for c in result["candidates"])
            return f"[{lang}] unsure ({result['confidence']:.2f}); candidates: {options or '-'}"
        return f"[{lang}] {result['intent']} ({result['confidence']:.2f}): conversational"
