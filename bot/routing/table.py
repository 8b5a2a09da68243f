"""Load and validate the routing table; decide the unit for a parse result.

Pure functions after loading: no I/O in `decide`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.routing import public_holidays
from bot.routing.facts import FACTS_FILE, Fact, Facts, load_facts
from bot.routing.schema import LANGUAGES, Contact, Route, RoutesFile, Unit, UnitsFile
from bot.routing.source import Source


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
    default_unit: str = ""
    complaint_unit: str = ""
    facts: Facts = field(default_factory=dict)
    questions: set[str] = field(default_factory=set)
    about_matter: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.default_unit and self.units:
            self.default_unit = next(iter(self.units))
        if not self.complaint_unit:
            self.complaint_unit = self.default_unit

    def facts_for(self, intent: str | None, kind: str, lang: str) -> Fact | None:
        """The fact of `kind` about `intent`'s matter in `lang` (English when unknown).

        `kind` is one of FACT_KINDS (processing_time, fees, application_period, attachments,
        where_to_apply). None when the intent is None or the fact is not in facts.yml.
        """
        if intent is None:
            return None
        return self.facts.get((intent, kind, lang if lang in LANGUAGES else "en"))

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


def load_routing(folder: str | Path) -> RoutingTable:
    """Read routing/units.yml, routing/routes.yml and routing/facts.yml; check them together.

    facts.yml is optional (absent: no facts).

    Raises:
        RoutingTableError: naming the file, line and key of the first problem.
    """
    folder = Path(folder)
    units_src, routes_src = Source.read(folder / "units.yml"), Source.read(folder / "routes.yml")
    units_file: UnitsFile = units_src.validate(UnitsFile)
    routes_file: RoutesFile = routes_src.validate(RoutesFile)
    units = _check_units(units_src, units_file)
    routes: dict[str, Route] = {}
    for index, route in enumerate(routes_file.routes):
        loc: tuple[str | int, ...] = ("routes", index)
        if route.intent in routes:
            raise routes_src.error(loc, "the intent has two routes. Keep one.")
        if route.intent in routes_file.conversational:
            raise routes_src.error(loc, "a conversational intent cannot have a route. Remove "
                                   "the route or take the intent out of 'conversational'.")
        targets = [(route.unit, route.contact, loc)] + [
            (c.unit, c.contact, (*loc, "when", n)) for n, c in enumerate(route.when)]
        for unit_id, role, where in targets:
            if unit_id not in units:
                raise routes_src.error(
                    (*where, "unit"), f"unknown unit '{unit_id}'. Known units: "
                    f"{', '.join(sorted(units))}")
            if role and role not in {c.role for c in units[unit_id].contacts}:
                raise routes_src.error(
                    (*where, "contact"), f"unit '{unit_id}' has no contact with role '{role}'. "
                    f"Its roles: {', '.join(c.role for c in units[unit_id].contacts)}")
        routes[route.intent] = route
    conversational = set(routes_file.conversational)
    for key in ("questions", "about_matter"):
        for index, name in enumerate(getattr(routes_file, key)):
            if name not in conversational:
                raise routes_src.error((key, index), f"'{name}' is not listed under "
                                       f"'conversational'. The intents of '{key}' are "
                                       "conversational: add it there too, or remove it "
                                       f"from '{key}'.")
    facts = load_facts(folder / FACTS_FILE, set(routes), conversational)
    this_year = datetime.now().year
    public_holidays.preload(range(this_year - 1, this_year + 3))
    default = units_file.default_unit or next(iter(units))
    return RoutingTable(units, routes, conversational, units_file.timezone,
                        default_unit=default, complaint_unit=units_file.complaint_unit or default,
                        facts=facts, questions=set(routes_file.questions),
                        about_matter=set(routes_file.about_matter))


def _check_units(src: Source, parsed: UnitsFile) -> dict[str, Unit]:
    """Units by id, checked against each other."""
    units: dict[str, Unit] = {}
    for index, unit in enumerate(parsed.units):
        if unit.id in units:
            raise src.error(("units", index, "id"), "the same unit id appears twice")
        units[unit.id] = unit
    known = ", ".join(sorted(units))
    for index, unit in enumerate(parsed.units):
        loc: tuple[str | int, ...] = ("units", index)
        if unit.fallback is not None and unit.fallback not in units:
            raise src.error((*loc, "fallback"),
                            f"fallback names unknown unit '{unit.fallback}'. Known units: {known}")
        for lang in ("fi", "sv"):
            if not any(lang in c.languages for c in unit.contacts):
                raise src.error((*loc, "contacts"), f"no contact serves '{lang}'. Every unit "
                                "needs a contact for Finnish and one for Swedish.")
        roles = [c.role for c in unit.contacts]
        if len(set(roles)) != len(roles):
            raise src.error((*loc, "contacts"), "two contacts share a role")
    for key in ("default_unit", "complaint_unit"):
        unit_id = getattr(parsed, key)
        if unit_id is None:
            continue
        if unit_id not in units:
            raise src.error((key,), f"{key} names unknown unit '{unit_id}'. Known units: {known}")
        if units[unit_id].non_business:
            raise src.error((key,), f"{key} names '{unit_id}', which is marked non_business: "
                            "enquiries sent there would not be handled. Name a business unit.")
    return units
