import pytest

from bot.dialogue.domain import load_domain
from bot.dialogue.responses import fill_template, render_response
from bot.routing.hours import format_opening, is_open, next_opening
from bot.routing.schema import OpeningHours
from tests.conftest import ROOT


@pytest.mark.parametrize("language,expected", [("fi", "Hei!"), ("sv", "Hej!"), ("en", "Hello!")])
def test_dialogue_responses_follow_the_language_slot(language, expected):
    domain = load_domain(ROOT / "domain.yml")
    message = render_response(domain, "utter_greet", {"language": language})
    assert message["text"].startswith(expected)


@pytest.mark.parametrize("template,values,expected", [
    ("Hi {name}", {"name": "<b>Ann</b>"}, "Hi <b>Ann</b>"),
    ("Hi {unknown}", {}, "Hi {unknown}"),
    ("Broken {", {"x": 1}, "Broken {"),
    ("{a} and {b}", {"a": 1, "b": None}, "1 and {b}"),
])
def test_dialogue_responses_fill_template(template, values, expected):
    assert fill_template(template, values) == expected


HOURS = OpeningHours(weekdays="08:00-16:00")


@pytest.mark.parametrize("when,open_now,next_open", [
    ("2026-11-23T10:00:00+02:00", True, None),  # Monday morning
    ("2026-11-23T17:00:00+02:00", False, "2026-11-24T08:00:00+02:00"),  # Monday evening
    ("2026-11-28T12:00:00+02:00", False, "2026-11-30T08:00:00+02:00"),  # Saturday
    ("2026-11-23T07:59:00+02:00", False, "2026-11-23T08:00:00+02:00"),  # just before opening
])
def test_dialogue_opening_hours(when, open_now, next_open):
    from datetime import datetime

    moment = datetime.fromisoformat(when)
    assert is_open(HOURS, moment) is open_now
    found = next_opening(HOURS, moment)
    assert (found.isoformat() if found else None) == next_open


@pytest.mark.parametrize("language,expected", [
    ("fi", "ti 24.11. klo 8.00"), ("sv", "tis 24.11 kl. 8.00"), ("en", "Tue 24 Nov at 8:00")])
def test_dialogue_opening_time_in_each_language(language, expected):
    from datetime import datetime

    assert format_opening(datetime.fromisoformat("2026-11-24T08:00:00+02:00"),
                          language) == expected
