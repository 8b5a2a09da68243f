from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.routing.hours import describe_hours, hours_on, is_open, next_opening, open_now_text
from bot.routing.public_holidays import holiday_name
from bot.routing.schema import OpeningHours

TZ = ZoneInfo("Europe/Helsinki")
PLAIN = OpeningHours(weekdays="08:00-16:00")
WEEK = OpeningHours.model_validate({
    "weekdays": "08:00-16:00", "friday": "08:00-15:00", "saturday": "10:00-14:00"})
YEAR = OpeningHours.model_validate({
    "weekdays": "08:00-16:00",
    "exceptions": [
        {"date": "2026-12-31", "hours": "08:00-14:00",
         "name": {"fi": "uudenvuodenaatto", "sv": "nyårsafton", "en": "New Year's Eve"}},
        {"date": "2027-01-06", "hours": "10:00-12:00"},
        {"date": "2027-02-15", "hours": "closed"},
        {"from": "2027-06-15", "to": "2027-08-15", "weekdays": "09:00-15:00",
         "name": {"fi": "kesäaika", "sv": "sommartid", "en": "summer hours"}},
        {"from": "2027-07-05", "to": "2027-07-09", "hours": "closed"},
    ]})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize("day,name_fi,name_sv,name_en", [
    ("2026-12-24", "jouluaatto", "julafton", "Christmas Eve"),
    ("2026-12-25", "joulupäivä", "juldagen", "Christmas Day"),
    ("2027-06-25", "juhannusaatto", "midsommarafton", "Midsummer Eve"),
    ("2027-03-29", "toinen pääsiäispäivä", "annandag påsk", "Easter Monday"),
    ("2027-03-26", "pitkäperjantai", "långfredagen", "Good Friday"),
    ("2027-12-06", "itsenäisyyspäivä", "självständighetsdagen", "Independence Day"),
    ("2027-05-06", "helatorstai", "Kristi himmelsfärdsdag", "Ascension Day"),
])
def test_routing_hours_closed_on_public_holidays(day, name_fi, name_sv, name_en):
    moment = at(f"{day}T10:00")
    assert moment.weekday() < 5
    assert not is_open(PLAIN, moment)
    assert hours_on(PLAIN, moment.date()).why == "holiday"
    assert holiday_name(moment.date(), "fi") == name_fi
    assert holiday_name(moment.date(), "sv").lower() == name_sv.lower()
    assert holiday_name(moment.date(), "en") == name_en


@pytest.mark.parametrize("when,expected", [
    ("2026-12-25T10:00", True),   # public_holidays: false
    ("2026-12-28T10:00", True),
])
def test_routing_hours_public_holidays_can_be_ignored(when, expected):
    hours = OpeningHours(weekdays="08:00-16:00", public_holidays=False)
    assert is_open(hours, at(when)) is expected


@pytest.mark.parametrize("when,expected", [
    ("2026-12-23T15:59", True),   # ordinary Wednesday
    ("2026-12-31T13:00", True),   # shorter New Year's Eve
    ("2026-12-31T14:30", False),
    ("2027-01-06T11:00", True),   # a date exception wins over the holiday (Epiphany)
    ("2027-01-06T13:00", False),
    ("2027-02-15T10:00", False),  # closed by a date exception
    ("2027-06-16T08:30", False),  # summer hours start at 9
    ("2027-06-16T14:30", True),
    ("2027-06-16T15:30", False),
    ("2027-06-25T10:00", False),  # Midsummer Eve: the holiday wins over the summer period
    ("2027-07-06T10:00", False),  # a closed week inside the summer
    ("2027-08-16T15:30", True),   # back to the regular week
])
def test_routing_hours_exceptions(when, expected):
    assert is_open(YEAR, at(when)) is expected


@pytest.mark.parametrize("when,expected", [
    ("2026-11-26T15:30", True),   # Thursday: weekdays
    ("2026-11-27T15:30", False),  # Friday: its own hours end at 15
    ("2026-11-27T14:59", True),
    ("2026-11-28T11:00", True),   # Saturday open
    ("2026-11-28T14:00", False),
    ("2026-11-29T11:00", False),  # Sunday closed when absent
])
def test_routing_hours_per_day_overrides(when, expected):
    assert is_open(WEEK, at(when)) is expected


def test_routing_hours_a_day_can_be_closed():
    hours = OpeningHours.model_validate({"weekdays": "08:00-16:00", "monday": "closed"})
    assert not is_open(hours, at("2026-11-23T10:00"))
    assert next_opening(hours, at("2026-11-23T10:00")) == at("2026-11-24T08:00")


@pytest.mark.parametrize("hours,when,expected", [
    # Christmas: Thu 24 and Fri 25 are holidays, then the weekend.
    (PLAIN, "2026-12-23T17:00", "2026-12-28T08:00"),
    (PLAIN, "2026-12-24T10:00", "2026-12-28T08:00"),
    # Easter 2027: Good Friday to Easter Monday.
    (PLAIN, "2027-03-25T16:30", "2027-03-30T08:00"),
    # Midsummer 2027: Eve on Friday; summer hours on the Monday after.
    (YEAR, "2027-06-24T17:00", "2027-06-28T09:00"),
    # A closed week inside the summer.
    (YEAR, "2027-07-02T16:00", "2027-07-12T09:00"),
    (PLAIN, "2026-12-23T10:00", None),  # open now
])
def test_routing_hours_next_opening_across_holidays(hours, when, expected):
    found = next_opening(hours, at(when))
    assert found == (at(expected) if expected else None)


def test_routing_hours_never_open():
    hours = OpeningHours.model_validate({"weekdays": "closed"})
    assert next_opening(hours, at("2026-11-23T10:00")) is None
    assert open_now_text(hours, "en", at("2026-11-23T10:00")) == "Closed now."


@pytest.mark.parametrize("hours,when,language,expected", [
    (PLAIN, "2026-11-23T10:00", "fi", "ma–pe 8.00–16.00"),
    (PLAIN, "2026-11-23T10:00", "sv", "mån–fre 8.00–16.00"),
    (PLAIN, "2026-11-23T10:00", "en", "Mon–Fri 8:00–16:00"),
    (WEEK, "2026-11-23T10:00", "fi", "ma–to 8.00–16.00, pe 8.00–15.00, la 10.00–14.00"),
    (WEEK, "2026-11-23T10:00", "en", "Mon–Thu 8:00–16:00, Fri 8:00–15:00, Sat 10:00–14:00"),
    (PLAIN, "2026-12-18T10:00", "fi",
     "ma–pe 8.00–16.00; suljettu 24.12. (jouluaatto), 25.12. (joulupäivä), "
     "1.1. (uudenvuodenpäivä)"),
    (PLAIN, "2026-12-18T10:00", "sv",
     "mån–fre 8.00–16.00; stängt 24.12 (julafton), 25.12 (juldagen), 1.1 (nyårsdagen)"),
    (PLAIN, "2026-12-18T10:00", "en",
     "Mon–Fri 8:00–16:00; closed 24 Dec (Christmas Eve), 25 Dec (Christmas Day), "
     "1 Jan (New Year's Day)"),
    # a holiday on a closed day is not worth mentioning (6 Dec 2026 is a Sunday)
    (PLAIN, "2026-11-30T10:00", "en", "Mon–Fri 8:00–16:00"),
    (YEAR, "2026-12-28T10:00", "fi",
     "ma–pe 8.00–16.00; suljettu 1.1. (uudenvuodenpäivä); 31.12. (uudenvuodenaatto) "
     "8.00–14.00; 6.1. (loppiainen) 10.00–12.00"),
    (YEAR, "2027-06-07T10:00", "en",
     "Mon–Fri 8:00–16:00; from 15 Jun Mon–Fri 9:00–15:00"),
    (YEAR, "2027-07-20T10:00", "sv", "mån–fre 9.00–15.00 (till 15.8)"),
    (YEAR, "2027-06-28T10:00", "en",
     "Mon–Fri 9:00–15:00 (until 15 Aug); closed 5 Jul – 9 Jul"),
    (OpeningHours.model_validate({"weekdays": "closed"}), "2026-11-23T10:00", "fi", "suljettu"),
])
def test_routing_hours_describe(hours, when, language, expected):
    assert describe_hours(hours, language, at(when)) == expected


@pytest.mark.parametrize("hours,when,language,expected", [
    (PLAIN, "2026-11-23T10:00", "fi", "Avoinna nyt, tänään 8.00–16.00."),
    (PLAIN, "2026-11-23T10:00", "sv", "Öppet nu, i dag 8.00–16.00."),
    (PLAIN, "2026-11-23T10:00", "en", "Open now, today 8:00–16:00."),
    (PLAIN, "2026-11-23T07:00", "fi", "Suljettu nyt, avautuu tänään 8.00."),
    (PLAIN, "2026-11-23T17:00", "sv", "Stängt nu, öppnar i morgon 8.00."),
    (PLAIN, "2026-11-23T17:00", "en", "Closed now, opens tomorrow at 8:00."),
    (PLAIN, "2026-11-28T12:00", "fi", "Suljettu nyt, avautuu ma 8.00."),
    (PLAIN, "2026-11-28T12:00", "sv", "Stängt nu, öppnar mån 8.00."),
    (PLAIN, "2026-11-28T12:00", "en", "Closed now, opens Mon at 8:00."),
    (PLAIN, "2026-12-24T10:00", "fi", "Suljettu nyt (jouluaatto), avautuu ma 8.00."),
    (PLAIN, "2026-12-24T10:00", "sv", "Stängt nu (julafton), öppnar mån 8.00."),
    (PLAIN, "2026-12-24T10:00", "en", "Closed now (Christmas Eve), opens Mon at 8:00."),
    (YEAR, "2026-12-31T12:00", "en", "Open now, today 8:00–14:00."),
    (YEAR, "2027-07-03T10:00", "fi", "Suljettu nyt, avautuu ma 12.7. 9.00."),
    (YEAR, "2027-07-03T10:00", "en", "Closed now, opens Mon 12 Jul at 9:00."),
    (PLAIN, "2026-11-23T10:00", "de", "Open now, today 8:00–16:00."),
])
def test_routing_hours_open_now_text(hours, when, language, expected):
    assert open_now_text(hours, language, at(when)) == expected


def test_routing_hours_open_now_text_names_no_unit(routing_table):
    moment = at("2026-11-28T12:00")
    for unit in routing_table.units.values():
        for language in ("fi", "sv", "en"):
            text = open_now_text(unit.opening_hours, language, moment)
            assert unit.names.get(language) not in text


@pytest.mark.parametrize("day,expected", [
    ("2026-12-24", None), ("2026-12-31", "08:00-14:00"), ("2027-06-16", "09:00-15:00"),
    ("2027-06-18", "09:00-15:00"), ("2027-06-25", None)])
def test_routing_hours_real_city_exceptions(routing_table, day, expected):
    hours = routing_table.units["business-services"].opening_hours
    assert hours_on(hours, date.fromisoformat(day)).hours in ({None, "closed"} if expected is None
                                                               else {expected})
