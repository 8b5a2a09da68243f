"""The NLU and the routing table together: what `bpbot route` and the server call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nlu.model import NLUModel, load_model
from bot.routing import RouteDecision, RoutingTable, load_routing


# Several needs in one message: sentences, and clauses joined by these words.
_SENTENCES = re.compile(r"(?<=[.!?;:])\s+|\n+")
_CONNECTORS = re.compile(
    r",?\s+\b(?:ja|sekä|lisäksi|myös|and|also|plus|as well as|additionally|och|samt|"
    r"dessutom|även|också)\b\s+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_CLAUSE_WORDS = 2
MAX_CLAUSES = 8
# A clause counts as a need of its own only when it is this clear on its own.
MIN_NEED_CONFIDENCE = 0.6


def clauses(text: str) -> list[str]:
    """The sentences and joined clauses of a message that could each carry a need."""
    parts: list[str] = []
    for sentence in _SENTENCES.split(text):
        for part in _CONNECTORS.split(sentence):
            part = part.strip(" ,;:-")
            if len(_WORD.findall(part)) >= MIN_CLAUSE_WORDS:
                parts.append(part)
    return parts[:MAX_CLAUSES]


@dataclass
class Router:
    """Parse a message and decide its unit."""

    nlu: NLUModel
    table: RoutingTable

    @classmethod
    def load(cls, model: str | Path, routing: str | Path) -> Router:
        """Load a model folder (or the newest in a folder) and the routing table."""
        return cls(load_model(model), load_routing(routing))

    def decide(self, parsed: dict[str, Any], slots: dict[str, Any] | None = None
               ) -> RouteDecision:
        """The unit for a parse result, with the model's thresholds."""
        cfg = self.nlu.classifier_config
        return self.table.decide(
            parsed["intent_ranking"], parsed["entities"], slots,
            fallback_threshold=cfg.fallback_threshold, ambiguity_margin=cfg.ambiguity_margin,
        )

    def needs(self, parsed: dict[str, Any], slots: dict[str, Any] | None = None
              ) -> list[dict[str, Any]]:
        """Every unit a message needs, in order, when its clauses name two or more.

        Each clause is classified on its own (one batch); a clause that is clearly a
        routable need adds its unit. Returns [] for a message with one need (or none).
        """
        parts = clauses(str(parsed.get("text") or ""))
        if len(parts) < 2:
            return []
        found: dict[str, dict[str, Any]] = {}
        context: list[str] = []
        for part, ranking in zip(parts, self.nlu.rank(parts), strict=True):
            decision = self.decide({"intent_ranking": ranking,
                                    "entities": parsed.get("entities") or []}, slots)
            if (decision.unit is None or decision.needs_clarification
                    or decision.confidence < MIN_NEED_CONFIDENCE):
                if not found:
                    context.append(part)  # background before the first need
                continue
            need = found.setdefault(decision.unit, {
                "unit": decision.unit, "intent": decision.intent,
                "confidence": round(decision.confidence, 4), "parts": [*context]})
            need["parts"].append(part)
        if len(found) < 2:
            return []
        return [{"unit": n["unit"], "intent": n["intent"], "confidence": n["confidence"],
                 "text": "; ".join(n["parts"])} for n in found.values()]

    def route(self, text: str, previous_language: str | None = None,
              slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `bpbot route --jsonl` object for one message."""
        parsed = self.nlu.parse(text, previous_language)
        decision = self.decide(parsed, slots)
        needs = [] if decision.conversational else self.needs(parsed, slots)
        several = {"units": [n["unit"] for n in needs]} if len(needs) > 1 else {}
        if needs:
            decision = self.decide({"intent_ranking": [
                {"name": needs[0]["intent"], "confidence": needs[0]["confidence"]}],
                "entities": parsed["entities"]}, slots)
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
