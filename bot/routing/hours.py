"""Opening hours: is a unit open, when does it open next, and the hours in words (fi, sv, en).

Which hours apply on a date, strongest first: a single-date exception, a Finnish public
holiday (closed, when `public_holidays` is on), a period exception (summer hours; of
overlapping periods the shortest), the day's own key (`friday`), `weekdays` (Monday to
Friday). Saturday and Sunday are closed unless given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.routing.public_holidays import holiday_name, is_public_holiday
from bot.routing.schema import HoursException, OpeningHours, parse_span

_WEEKDAYS = {"fi": ["ma", "ti", "ke", "to", "pe", "la", "su"],
             "sv": ["mån", "tis", "ons", "tors", "fre", "lör", "sön"],
             "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec"]
# How far ahead describe_hours mentions holidays, exceptions and coming periods.
LOOKAHEAD_DAYS = 14
# How far next_opening searches (a long closure still finds the day it ends).
SEARCH_DAYS = 400

_WORDS = {
    "fi": {"closed": "suljettu", "until": "{date} asti", "from": "{date} alkaen {hours}",
           "open_now": "Avoinna nyt, tänään {hours}.", "closed_now": "Suljettu nyt{why}.",
           "opens": "Suljettu nyt{why}, avautuu {when}.", "today": "tänään {time}",
           "tomorrow": "huomenna {time}", "day": "{day} {time}", "far": "{day} {date} {time}"},
    "sv": {"closed": "stängt", "until": "till {date}", "from": "från {date} {hours}",
           "open_now": "Öppet nu, i dag {hours}.", "closed_now": "Stängt nu{why}.",
           "opens": "Stängt nu{why}, öppnar {when}.", "today": "i dag {time}",
           "tomorrow": "i morgon {time}", "day": "{day} {time}", "far": "{day} {date} {time}"},
    "en": {"closed": "closed", "until": "until {date}", "from": "from {date} {hours}",
           "open_now": "Open now, today {hours}.", "closed_now": "Closed now{why}.",
           "opens": "Closed now{why}, opens {when}.", "today": "today at {time}",
           "tomorrow": "tomorrow at {time}", "day": "{day} at {time}",
           "far": "{day} {date} at {time}"},
}


@dataclass(frozen=True)
class DayHours:
    """The hours of one date and why: 'regular', 'period', 'holiday' or 'exception'."""

    day: date
    hours: str | None
    why: str
    exception: HoursException | None = None

    @property
    def span(self) -> tuple[time, time] | None:
        """(opens, closes), or None when closed all day."""
        return parse_span(self.hours)


def _period(hours: OpeningHours, day: date) -> HoursException | None:
    """The period exception that covers `day` and sets hours for its weekday.

    Of overlapping periods the shortest wins (a closed week inside the summer hours), the
    later one on a tie.
    """
    best: HoursException | None = None
    for exc in hours.exceptions:
        if not exc.single and exc.covers(day) and exc.weekday_hours(day.weekday())[0]:
            if best is None or _length(exc) <= _length(best):
                best = exc
    return best


def _length(exc: HoursException) -> int:
    assert exc.start is not None and exc.end is not None
    return (exc.end - exc.start).days


def hours_on(hours: OpeningHours, day: date) -> DayHours:
    """The hours that apply on `day` (see the module docstring for the order)."""
    for exc in hours.exceptions:
        if exc.single and exc.covers(day):
            return DayHours(day, exc.hours, "exception", exc)
    if hours.public_holidays and is_public_holiday(day):
        return DayHours(day, None, "holiday")
    period = _period(hours, day)
    if period is not None:
        return DayHours(day, period.weekday_hours(day.weekday())[1], "period", period)
    return DayHours(day, hours.regular(day.weekday()), "regular")


def is_open(hours: OpeningHours, at: datetime) -> bool:
    """Whether `at` (timezone-aware, in the unit's zone) falls within opening hours."""
    span = hours_on(hours, at.date()).span
    return span is not None and span[0] <= at.time() < span[1]


def next_opening(hours: OpeningHours, at: datetime) -> datetime | None:
    """The next moment the unit opens after `at`; None if it is open now or never opens."""
    if is_open(hours, at):
        return None
    for days in range(SEARCH_DAYS):
        day = at.date() + timedelta(days=days)
        span = hours_on(hours, day).span
        if span is None:
            continue
        opening = datetime.combine(day, span[0], tzinfo=at.tzinfo)
        if opening > at:
            return opening
    return None


def _lang(language: str) -> str:
    return language if language in _WORDS else "en"


def _time(moment: time, language: str) -> str:
    sep = ":" if language == "en" else "."
    return f"{moment.hour}{sep}{moment.minute:02d}"


def _date(day: date, language: str) -> str:
    if language == "fi":
        return f"{day.day}.{day.month}."
    if language == "sv":
        return f"{day.day}.{day.month}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]}"


def _span_text(raw: str | None, language: str) -> str:
    span = parse_span(raw)
    if span is None:
        return _WORDS[language]["closed"]
    return f"{_time(span[0], language)}–{_time(span[1], language)}"


def _week_text(week: list[str | None], language: str) -> str:
    """'ma–pe 8.00–16.00, la 10.00–14.00': runs of days with equal hours, closed days out."""
    names = _WEEKDAYS[language]
    parts: list[str] = []
    start = 0
    while start < 7:
        end = start
        while end + 1 < 7 and week[end + 1] == week[start]:
            end += 1
        if parse_span(week[start]) is not None:
            days = names[start] if start == end else f"{names[start]}–{names[end]}"
            parts.append(f"{days} {_span_text(week[start], language)}")
        start = end + 1
    return ", ".join(parts) or _WORDS[language]["closed"]


def _week(hours: OpeningHours, period: HoursException | None) -> list[str | None]:
    """The hours of each weekday under the regular week, changed by `period` if given."""
    week: list[str | None] = []
    for weekday in range(7):
        applies, raw = period.weekday_hours(weekday) if period else (False, None)
        week.append(raw if applies else hours.regular(weekday))
    return week


def _reason(day: DayHours, language: str) -> str | None:
    """The name of a special day: the exception's own name, else the holiday's."""
    if day.exception is not None and day.exception.name is not None:
        return day.exception.name.get(language)
    return holiday_name(day.day, language)


def describe_hours(hours: OpeningHours, language: str, at: datetime) -> str:
    """The weekly hours in words, plus changes in the next two weeks.

    e.g. 'ma–pe 8.00–16.00; suljettu 24.12. (jouluaatto), 25.12. (joulupäivä)',
    'mån–fre 8.00–16.00 (till 15.8)', 'Mon–Fri 8:00–16:00; closed 24 Dec (Christmas Eve)'.
    """
    lang = _lang(language)
    words = _WORDS[lang]
    today = at.date()
    active = _period(hours, today)
    current = _week(hours, active)
    first = _week_text(current, lang)
    if active is not None and active.end is not None:
        first += f" ({words['until'].format(date=_date(active.end, lang))})"
    parts = [first]
    horizon = today + timedelta(days=LOOKAHEAD_DAYS)
    for exc in hours.exceptions:
        if exc.single or exc.start is None or exc.end is None:
            continue
        if today < exc.start <= horizon:
            pattern = _week(hours, exc)
            if all(parse_span(h) is None for h in pattern):
                dash = " – " if lang == "en" else "–"
                parts.append(f"{words['closed']} {_date(exc.start, lang)}{dash}"
                             f"{_date(exc.end, lang)}")
            else:
                parts.append(words["from"].format(date=_date(exc.start, lang),
                                                  hours=_week_text(pattern, lang)))
    closed: list[str] = []
    changed: list[str] = []
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        found = hours_on(hours, day)
        if found.why not in ("exception", "holiday"):
            continue
        period = _period(hours, day)
        usual = _week(hours, period)[day.weekday()]
        if parse_span(found.hours) == parse_span(usual):
            continue
        reason = _reason(found, lang)
        label = _date(day, lang) + (f" ({reason})" if reason else "")
        if found.span is None:
            closed.append(label)
        else:
            changed.append(f"{label} {_span_text(found.hours, lang)}")
    if closed:
        parts.append(f"{words['closed']} {', '.join(closed)}")
    parts.extend(changed)
    return "; ".join(parts)


def open_now_text(hours: OpeningHours, language: str, at: datetime) -> str:
    """'Avoinna nyt, tänään 8.00–16.00.' or 'Suljettu nyt, avautuu ma 8.00.' (sv, en alike).

    The sentence names no unit, so it can follow any sentence that does.
    """
    lang = _lang(language)
    words = _WORDS[lang]
    today = hours_on(hours, at.date())
    if is_open(hours, at):
        return words["open_now"].format(hours=_span_text(today.hours, lang))
    reason = _reason(today, lang) if today.span is None and today.why in (
        "exception", "holiday") else None
    why = f" ({reason})" if reason else ""
    opens = next_opening(hours, at)
    if opens is None:
        return words["closed_now"].format(why=why)
    days = (opens.date() - at.date()).days
    moment = _time(opens.time(), lang)
    day_name = _WEEKDAYS[lang][opens.weekday()]
    if days == 0:
        when = words["today"].format(time=moment)
    elif days == 1:
        when = words["tomorrow"].format(time=moment)
    elif days < 7:
        when = words["day"].format(day=day_name, time=moment)
    else:
        when = words["far"].format(day=day_name, date=_date(opens.date(), lang), time=moment)
    return words["opens"].format(why=why, when=when)


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
