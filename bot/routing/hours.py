"""Opening hours: is a unit open now, and when does it open next (in the user's language)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.routing.schema import OpeningHours

_WEEKDAYS = {"fi": ["ma", "ti", "ke", "to", "pe", "la", "su"],
             "sv": ["mån", "tis", "ons", "tors", "fre", "lör", "sön"],
             "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def _span(hours: OpeningHours, weekday: int) -> tuple[time, time] | None:
    raw = hours.weekdays if weekday < 5 else hours.saturday if weekday == 5 else hours.sunday
    if not raw:
        return None
    start, end = raw.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def is_open(hours: OpeningHours, when: datetime) -> bool:
    """Whether `when` (timezone-aware, in the unit's zone) falls within opening hours."""
    span = _span(hours, when.weekday())
    return span is not None and span[0] <= when.time() < span[1]


def next_opening(hours: OpeningHours, when: datetime) -> datetime | None:
    """The next moment the unit opens after `when`; None if it is open now or never."""
    if is_open(hours, when):
        return None
    for days in range(0, 8):
        day = (when + timedelta(days=days)).date()
        span = _span(hours, day.weekday())
        if span is None:
            continue
        opening = datetime.combine(day, span[0], tzinfo=when.tzinfo)
        if opening > when:
            return opening
    return None


def format_opening(moment: datetime, language: str) -> str:
    """'ma 24.11. klo 8.00', 'mån 24.11 kl. 8.00' or 'Mon 24 Nov at 8:00'."""
    day = _WEEKDAYS.get(language, _WEEKDAYS["en"])[moment.weekday()]
    if language == "fi":
        return f"{day} {moment.day}.{moment.month}. klo {moment.hour}.{moment.minute:02d}"
    if language == "sv":
        return f"{day} {moment.day}.{moment.month} kl. {moment.hour}.{moment.minute:02d}"
    return f"{day} {moment.day} {moment:%b} at {moment.hour}:{moment.minute:02d}"


def now_in(timezone: str) -> datetime:
    """The current time in the routing table's time zone."""
    return datetime.now(ZoneInfo(timezone))
