
import pytest
import yaml

from bot.errors import RoutingTableError
from bot.routing import load_routing

UNIT_IDS = ["business-services", "posintra", "land-use", "building-control", "environment",
            "employment", "procurement", "streets", "tourism-events",
            "entrepreneurs-association", "customer-service"]


def test_routing_project_table_has_exactly_the_units(routing_table):
    assert sorted(routing_table.units) == sorted(UNIT_IDS)
    for unit in routing_table.units.values():
        langs = {lang for c in unit.contacts for lang in c.languages}
        assert {"fi", "sv"} <= langs
        assert all(c.email.endswith("@example.fi") for c in unit.contacts)


def _edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def _unit(data, uid):
    return next(u for u in data["units"] if u["id"] == uid)


@pytest.mark.parametrize("file,change,message", [
    ("routes.yml", lambda d: d["routes"].append({"intent": "x", "unit": "nowhere"}),
     "unknown unit 'nowhere'"),
    ("units.yml", lambda d: _unit(d, "streets")["contacts"][0].update(languages=["fi"]),
     "no contact serves 'sv'"),
    ("units.yml", lambda d: _unit(d, "streets")["contacts"][0].update(languages=["sv"]),
     "no contact serves 'fi'"),
    ("units.yml", lambda d: _unit(d, "streets").update(fallback="mars"), "unknown unit 'mars'"),
    ("units.yml", lambda d: _unit(d, "streets").update(colour="red"), "streets.colour"),
    ("units.yml", lambda d: _unit(d, "streets")["contacts"][0].update(email="nope"),
     "e-mail address"),
    ("routes.yml", lambda d: d["routes"].append({"intent": "greet", "unit": "streets"}),
     "conversational"),
])
def test_routing_errors_name_file_and_key(routing_copy, file, change, message):
    _edit(routing_copy / file, change)
    with pytest.raises(RoutingTableError) as err:
        load_routing(routing_copy)
    assert file in str(err.value) and message in str(err.value)


def test_routing_missing_file(routing_copy):
    (routing_copy / "routes.yml").unlink()
    with pytest.raises(RoutingTableError, match="routes.yml: file not found"):
        load_routing(routing_copy)


def test_routing_condition_on_entity(routing_copy):
    def add(d):
        route = next(r for r in d["routes"] if r["intent"] == "business_plot")
        route["when"] = [{"entity": "area", "value": "Kilpilahti", "unit": "business-services"}]
    _edit(routing_copy / "routes.yml", add)
    table = load_routing(routing_copy)
    ranking = [{"name": "business_plot", "confidence": 0.9}, {"name": "zoning", "confidence": 0.1}]
    assert table.decide(ranking).unit == "land-use"
    ents = [{"entity": "area", "value": "Kilpilahti"}]
    assert table.decide(ranking, ents).unit == "business-services"


@pytest.mark.parametrize("ranking,unit,clarify", [
    # confident top intent
    ([("terrace_permit", 0.9), ("street_works", 0.05)], "streets", False),
    # two intents of one unit share the confidence: routed, no question
    ([("terrace_permit", 0.4), ("street_works", 0.38), ("zoning", 0.1)], "streets", False),
    # two units close together: ask
    ([("terrace_permit", 0.45), ("zoning", 0.42)], None, True),
    # low confidence: ask
    ([("procurement", 0.3), ("zoning", 0.2), ("layoffs", 0.2)], None, True),
    # conversational: no unit, no question
    ([("thanks", 0.95), ("greet", 0.02)], None, False),
])
def test_routing_decide(routing_table, ranking, unit, clarify):
    decision = routing_table.decide([{"name": n, "confidence": c} for n, c in ranking])
    assert decision.needs_clarification is clarify
    assert (None if clarify else decision.unit) == unit
    if clarify:
        assert decision.candidates
