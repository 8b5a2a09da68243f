
import pytest
import yaml

from bot.errors import RoutingTableError
from bot.routing import load_routing
from bot.routing.schema import Unit

LANGUAGES = ["fi", "sv", "en"]


def _edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _unit(data, uid):
    return next(u for u in data["units"] if u["id"] == uid)


def _hours(data, uid="streets"):
    return _unit(data, uid)["opening_hours"]


def _set(mapping, **values):
    mapping.update(values)


# (change, key in the message, text on the named line, words of the message)
MISTAKES = [
    (lambda d: _set(_unit(d, "streets"), phone="call us"), "units.streets.phone", "phone:",
     ["expected a phone number", "+358 19 520 2000"]),
    (lambda d: _set(_unit(d, "streets")["urls"], fi="porvoo.fi/katu"), "units.streets.urls.fi",
     "fi: porvoo.fi/katu", ["expected a web address", "https://"]),
    (lambda d: _unit(d, "streets")["urls"].update(se=_unit(d, "streets")["urls"].pop("sv")),
     "units.streets.urls.se", "se:", ["unknown key 'se'", "Did you mean 'sv'"]),
    (lambda d: _unit(d, "streets")["address"].pop("sv"), "units.streets.address.sv",
     "address:", ["Swedish text ('sv') is missing"]),
    (lambda d: _unit(d, "streets")["contacts"][0]["title"].pop("en"),
     "units.streets.contacts[0].title.en", "title:", ["English text ('en') is missing"]),
    (lambda d: _set(_hours(d), friday="8-15"), "units.streets.opening_hours.friday", "friday:",
     ["HH:MM-HH:MM", "'8-15'"]),
    (lambda d: _set(_hours(d), satruday="10:00-14:00"), "units.streets.opening_hours.satruday",
     "satruday:", ["unknown key 'satruday'", "Did you mean 'saturday'"]),
    (lambda d: _set(_hours(d), weekdays="16:00-08:00"), "units.streets.opening_hours.weekdays",
     "weekdays:", ["opening time must come before the closing time"]),
    (lambda d: _set(_hours(d), public_holidays="sometimes"),
     "units.streets.opening_hours.public_holidays", "public_holidays:", ["valid boolean"]),
    (lambda d: _set(_hours(d), exceptions=[{"date": "2026-12-24"}]),
     "units.streets.opening_hours.exceptions[0]", "- date:", ["a single date needs 'hours'"]),
    (lambda d: _set(_hours(d), exceptions=[{"date": "2026-13-01", "hours": "closed"}]),
     "units.streets.opening_hours.exceptions[0].date", "date:", ["valid date"]),
    (lambda d: _set(_hours(d), exceptions=[{"from": "2027-08-15", "to": "2027-06-15",
                                            "weekdays": "09:00-15:00"}]),
     "units.streets.opening_hours.exceptions[0]", "- from:", ["is after 'to'"]),
    (lambda d: _set(_hours(d), exceptions=[{"from": "2027-06-15", "weekdays": "09:00-15:00"}]),
     "units.streets.opening_hours.exceptions[0]", "- from:", ["both 'from' and 'to'"]),
    (lambda d: _set(_hours(d), exceptions=[{"from": "2027-06-15", "to": "2027-08-15"}]),
     "units.streets.opening_hours.exceptions[0]", "- from:", ["per-day hours"]),
    (lambda d: _set(_hours(d), exceptions=[{"date": "2026-12-24", "hours": "all day"}]),
     "units.streets.opening_hours.exceptions[0].hours", "hours:", ["or 'closed'"]),
    (lambda d: _set(_hours(d), exceptions=[{"day": "2026-12-24", "hours": "closed"}]),
     "units.streets.opening_hours.exceptions[0].day", "- day:", ["unknown key 'day'", "date"]),
    (lambda d: _set(d, default_unit="nowhere"), "default_unit", "default_unit:",
     ["default_unit names unknown unit 'nowhere'", "Known units"]),
    (lambda d: _set(d, complaint_unit="nowhere"), "complaint_unit", "complaint_unit:",
     ["complaint_unit names unknown unit 'nowhere'"]),
    (lambda d: _set(d, default_unit="customer-service"), "default_unit", "default_unit:",
     ["non_business"]),
    (lambda d: _set(_unit(d, "streets"), non_business="no thanks"),
     "units.streets.non_business", "non_business:", ["valid boolean"]),
]


@pytest.mark.parametrize("change,key,on_line,words", MISTAKES)
def test_routing_units_errors_name_file_line_and_key(routing_copy, change, key, on_line, words):
    path = routing_copy / "units.yml"
    _edit(path, change)
    with pytest.raises(RoutingTableError) as err:
        load_routing(routing_copy)
    message = str(err.value)
    assert "units.yml, line " in message and f"key '{key}'" in message
    for word in words:
        assert word in message
    line = path.read_text(encoding="utf-8").splitlines()[err.value.line - 1]
    assert on_line in line


@pytest.mark.parametrize("file,change,on_line", [
    ("routes.yml", lambda d: d["routes"].append({"intent": "x", "unit": "nowhere"}),
     "unit: nowhere"),
    ("units.yml", lambda d: _set(_unit(d, "streets"), fallback="mars"), "fallback: mars"),
])
def test_routing_units_cross_reference_errors_name_the_line(routing_copy, file, change,
                                                            on_line):
    path = routing_copy / file
    _edit(path, change)
    with pytest.raises(RoutingTableError) as err:
        load_routing(routing_copy)
    assert on_line in path.read_text(encoding="utf-8").splitlines()[err.value.line - 1]


@pytest.mark.parametrize("unit_id", ["business-services", "streets", "customer-service",
                                     "posintra", "tourism-events"])
def test_routing_units_have_phone_address_and_urls(routing_table, unit_id):
    unit = routing_table.units[unit_id]
    assert unit.phone and unit.phone.startswith("+358 ")
    for language in LANGUAGES:
        assert unit.address_for(language)
        assert unit.urls is not None and getattr(unit.urls, language), language
        assert unit.url_for(language).startswith("https://")
        for contact in unit.contacts:
            assert contact.title is not None and contact.title_for(language)
            assert "@" not in contact.title_for(language)


def test_routing_units_every_unit_has_the_facts(routing_table):
    for unit in routing_table.units.values():
        assert unit.phone, unit.id
        assert unit.address is not None, unit.id
        assert unit.urls is not None and all(getattr(unit.urls, lang) for lang in LANGUAGES)
        assert all(c.title is not None for c in unit.contacts), unit.id


@pytest.mark.parametrize("language,part", [
    ("fi", "/fi/"), ("sv", "/sv/"), ("en", "/en/"), ("de", "/en/")])
def test_routing_units_url_for_each_language(routing_table, language, part):
    unit = routing_table.units["business-services"]
    assert part in unit.url_for(language)
    assert unit.url == unit.url_for("en")  # the old attribute still reads a page


@pytest.mark.parametrize("urls,language,expected", [
    ({"fi": "https://x.fi/fi/"}, "sv", "https://x.fi/fi/"),
    ({"fi": "https://x.fi/fi/", "en": "https://x.fi/en/"}, "sv", "https://x.fi/en/"),
    ({"sv": "https://x.fi/sv/"}, "fi", "https://x.fi/sv/"),
    ("https://x.fi/", "sv", "https://x.fi/"),
])
def test_routing_units_url_for_falls_back(urls, language, expected):
    unit = _minimal_unit(urls=urls)
    assert unit.url_for(language) == expected
    assert unit.url is not None


@pytest.mark.parametrize("language,expected", [("fi", None), ("en", None)])
def test_routing_units_without_address(language, expected):
    assert _minimal_unit().address_for(language) is expected


def test_routing_units_old_url_key_still_works():
    unit = _minimal_unit(url="https://x.fi/en/")
    assert unit.url == "https://x.fi/en/"
    assert unit.url_for("fi") == "https://x.fi/en/"


@pytest.mark.parametrize("role,language,expected", [
    ("business-services", "fi", "yritysneuvoja"),
    ("business-services", "sv", "företagsrådgivare"),
    ("business-services", "en", "business adviser"),
])
def test_routing_units_contact_title(routing_table, role, language, expected):
    assert routing_table.contact("business-services", role).title_for(language) == expected


def test_routing_units_contact_without_title_shows_its_role():
    assert _minimal_unit().contacts[0].title_for("fi") == "front desk"


@pytest.mark.parametrize("attribute,expected", [
    ("default_unit", "business-services"), ("complaint_unit", "business-services")])
def test_routing_units_default_and_complaint_unit(routing_table, attribute, expected):
    assert getattr(routing_table, attribute) == expected
    assert not routing_table.units[expected].non_business


@pytest.mark.parametrize("unit_id,non_business", [
    ("customer-service", True), ("business-services", False), ("streets", False)])
def test_routing_units_non_business(routing_table, unit_id, non_business):
    assert routing_table.units[unit_id].non_business is non_business


@pytest.mark.parametrize("removed", [["default_unit", "complaint_unit"], ["complaint_unit"]])
def test_routing_units_default_unit_is_optional(routing_copy, removed):
    _edit(routing_copy / "units.yml", lambda d: [d.pop(key) for key in removed])
    table = load_routing(routing_copy)
    assert table.default_unit == "business-services"
    assert table.complaint_unit == table.default_unit


def _minimal_unit(**extra):
    return Unit.model_validate({
        "id": "desk", "names": {"fi": "a", "sv": "b", "en": "c"},
        "handles": {"fi": "a", "sv": "b", "en": "c"},
        "contacts": [{"role": "front-desk", "email": "desk@example.fi",
                      "languages": ["fi", "sv"]}],
        "opening_hours": {"weekdays": "08:00-16:00"}, "response_time_days": 2,
        "fallback": None, **extra})
