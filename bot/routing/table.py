"""Load and validate the routing table; decide the unit for a parse result.

Pure functions after loading: no I/O in `decide`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.errors import RoutingTableError
from bot.routing.schema import Contact, Route, RoutesFile, Unit, UnitsFile
from bot.yaml_io import read_yaml


@dataclass
class RouteDecision:
    """Where one message goes."""

    intent: str | None
    confidence: float
    unit: str | None
    contact: Contact | None
    needs_clarification: bool
    candidates: list[dict[str, Any]] = field(default_factory=list)
    conversational: bool = False


@dataclass
class RoutingTable:
    """Units and routes, validated against each other."""

    units: dict[str, Unit]
    routes: dict[str, Route]
    conversational: set[str]
    timezone: str = "Europe/Helsinki"

    def unit_for(self, intent: str, entities: Iterable[Mapping[str, Any]] = (),
                 slots: Mapping[str, Any] | None = None) -> tuple[str, Contact] | None:
        """The unit and contact for a routable intent, or None for an unknown one."""
        route = self.routes.get(intent)
        if route is None:
            return None
        by_entity: dict[str, set[str]] = {}
        for ent in entities:
            by_entity.setdefault(str(ent["entity"]), set()).add(str(ent["value"]))
        unit_id, role = route.unit, route.contact
        for cond in route.when:
            if cond.matches(by_entity, dict(slots or {})):
                unit_id, role = cond.unit, cond.contact
                break
        return unit_id, self.contact(unit_id, role)

    def contact(self, unit_id: str, role: str | None = None, language: str | None = None
                ) -> Contact:
        """The unit's contact with `role`, else the first that serves `language`."""
        unit = self.units[unit_id]
        if role:
            for c in unit.contacts:
                if c.role == role:
                    return c
        if language:
            for c in unit.contacts:
                if language in c.languages:
                    return c
        return unit.contacts[0]

    def decide(
        self, ranking: list[Mapping[str, Any]], entities: Iterable[Mapping[str, Any]] = (),
        slots: Mapping[str, Any] | None = None, *, fallback_threshold: float = 0.45,
        ambiguity_margin: float = 0.1, max_candidates: int = 3,
    ) -> RouteDecision:
        """Decide the unit from an intent ranking (best first, confidences summing to ~1).

        An enquiry is routed when its top intent is confident and clear of the runner-up,
        or when the intents near the top agree on one unit with enough total confidence.
        Otherwise it needs a clarifying question, offered as up to `max_candidates` units.
        """
        entities = list(entities)
        if not ranking:
            return RouteDecision(None, 0.0, None, None, True)
        top = ranking[0]
        name, conf = str(top["name"]), float(top["confidence"])
        second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
        clear = conf >= fallback_threshold and conf - second >= ambiguity_margin
        unit_conf: dict[str, float] = {}
        best_intent: dict[str, tuple[str, float]] = {}
        for item in ranking:
            found = self.unit_for(str(item["name"]), entities, slots)
            if found is None:
                continue
            uid = found[0]
            unit_conf[uid] = unit_conf.get(uid, 0.0) + float(item["confidence"])
            best_intent.setdefault(uid, (str(item["name"]), float(item["confidence"])))
        ranked_units = sorted(unit_conf.items(), key=lambda kv: -kv[1])
        candidates = [
            {"intent": best_intent[u][0], "unit": u, "confidence": round(c, 4)}
            for u, c in ranked_units[:max_candidates]
        ]
        if name in self.conversational:
            if clear:
                return RouteDecision(name, conf, None, None, False, candidates, True)
            return RouteDecision(name, conf, None, None, True, candidates, True)
        found = self.unit_for(name, entities, slots)
        if found and clear:
            return RouteDecision(name, conf, found[0], found[1], False, candidates)
        if ranked_units:
            u1, p1 = ranked_units[0]
            p2 = ranked_units[1][1] if len(ranked_units) > 1 else 0.0
            if p1 >= fallback_threshold and p1 - p2 >= ambiguity_margin and (
                    found is None or found[0] == u1):
                intent = best_intent[u1][0]
                unit_contact = self.unit_for(intent, entities, slots)
                assert unit_contact is not None
                return RouteDecision(name, conf, u1, unit_contact[1], False, candidates)
        return RouteDecision(name, conf, None, None, True, candidates)


def _validate(model: type[BaseModel], raw: Any, path: Path) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        # Name list items by their id or intent, not by index, where we can.
        key_parts: list[str] = []
        node: Any = raw
        for part in loc:
            if isinstance(node, list) and isinstance(part, int) and part < len(node):
                item = node[part]
                label = item.get("id") or item.get("intent") if isinstance(item, dict) else None
                key_parts.append(f"{label}" if label else f"[{part}]")
                node = item
            else:
                key_parts.append(str(part))
                node = node.get(part) if isinstance(node, dict) else None
        raise RoutingTableError(path, err["msg"], ".".join(key_parts) or None) from exc


def load_routing(folder: str | Path) -> RoutingTable:
    """Read routing/units.yml and routing/routes.yml and check them against each other.

    Raises:
        RoutingTableError: naming the file and key of the first problem.
    """
    folder = Path(folder)
    units_path, routes_path = folder / "units.yml", folder / "routes.yml"
    units_file: UnitsFile = _validate(UnitsFile, read_yaml(units_path, RoutingTableError),
                                      units_path)
    routes_file: RoutesFile = _validate(RoutesFile, read_yaml(routes_path, RoutingTableError),
                                        routes_path)
    units: dict[str, Unit] = {}
    for unit in units_file.units:
        if unit.id in units:
            raise RoutingTableError(units_path, "the same unit id appears twice", unit.id)
        units[unit.id] = unit
    for unit in units.values():
        if unit.fallback is not None and unit.fallback not in units:
            raise RoutingTableError(
                units_path, f"fallback names unknown unit '{unit.fallback}'. "
                f"Known units: {', '.join(sorted(units))}", f"{unit.id}.fallback")
        for lang in ("fi", "sv"):
            if not any(lang in c.languages for c in unit.contacts):
                raise RoutingTableError(
                    units_path, f"no contact serves '{lang}'. Every unit needs a contact for "
                    "Finnish and one for Swedish.", f"{unit.id}.contacts")
        roles = [c.role for c in unit.contacts]
        if len(set(roles)) != len(roles):
            raise RoutingTableError(units_path, "two contacts share a role", f"{unit.id}.contacts")
    routes: dict[str, Route] = {}
    for route in routes_file.routes:
        if route.intent in routes:
            raise RoutingTableError(routes_path, "the intent has two routes", route.intent)
        if route.intent in routes_file.conversational:
            raise RoutingTableError(
                routes_path, "a conversational intent cannot have a route", route.intent)
        targets = [(route.unit, route.contact)] + [(c.unit, c.contact) for c in route.when]
        for unit_id, role in targets:
            if unit_id not in units:
                raise RoutingTableError(
                    routes_path, f"unknown unit '{unit_id}'. Known units: "
                    f"{', '.join(sorted(units))}", f"{route.intent}.unit")
            if role and role not in {c.role for c in units[unit_id].contacts}:
                raise RoutingTableError(
                    routes_path, f"unit '{unit_id}' has no contact with role '{role}'",
                    f"{route.intent}.contact")
        routes[route.intent] = route
    return RoutingTable(units, routes, set(routes_file.conversational), units_file.timezone)
