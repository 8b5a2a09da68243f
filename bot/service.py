"""The NLU and the routing table together: what `bpbot route` and the server call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nlu.model import NLUModel, load_model
from bot.routing import RouteDecision, RoutingTable, load_routing


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

    def route(self, text: str, previous_language: str | None = None,
              slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `bpbot route --jsonl` object for one message."""
        parsed = self.nlu.parse(text, previous_language)
        decision = self.decide(parsed, slots)
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
