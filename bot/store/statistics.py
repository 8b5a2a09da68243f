"""A shared situational picture of the enquiries, computed from the database.

Each table is a name, its columns and its rows; the statistics page draws a chart of each
(server-rendered SVG) with the table beside it for screen readers, and exports it as CSV.
Working days skip weekends and Finnish public holidays.
"""

from __future__ import annotations

import statistics as stats
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.routing.public_holidays import is_public_holiday
from bot.store import ratings
from bot.store.db import Database
from bot.store.models import ConversationEvent, Enquiry, RoutingCorrection
from bot.store.review import unsure_reason

WEEKS = 8
AGE_BUCKETS = ((1, "<1"), (3, "1-3"), (7, "3-7"), (None, ">7"))  # days
STAFF_RESPONSES = {"in_progress", "answered", "closed"}


@dataclass
class Table:
    """One table of the page (and of the CSV export)."""

    name: str
    columns: list[str]  # ids; the page shows them in its language
    rows: list[list[Any]] = field(default_factory=list)

    def chart(self, value_column: int = 1) -> list[tuple[str, float]]:
        """(label, value) pairs for a bar chart."""
        return [(str(r[0]), float(r[value_column] or 0)) for r in self.rows]


def working_days(start: datetime, end: datetime) -> float:
    """Working days between two moments (weekends and public holidays not counted)."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.date()
    while day <= end.date():
        if day.weekday() < 5 and not is_public_holiday(day):
            day_start = max(start, datetime.combine(day, datetime.min.time(), start.tzinfo))
            day_end = min(end, datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                                start.tzinfo))
            total += max(0.0, (day_end - day_start).total_seconds()) / 86400
        day += timedelta(days=1)
    return round(total, 2)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first_response(enquiry: Enquiry) -> datetime | None:
    for event in enquiry.history or []:
        if event.get("event") == "note" or (
                event.get("event") == "status" and event.get("new") in STAFF_RESPONSES):
            return _aware(datetime.fromisoformat(str(event["at"])))
    return None


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def compute(db: Database, promised_days: dict[str, int], now: datetime | None = None
            ) -> list[Table]:
    """Every table of the statistics page, for the last WEEKS weeks."""
    now = now or datetime.now(UTC)
    since = now - timedelta(weeks=WEEKS)
    with db.session() as session:
        enquiries = list(session.scalars(select(Enquiry).where(Enquiry.created_at >= since)
                                         .order_by(Enquiry.created_at)))
        open_ones = list(session.scalars(select(Enquiry).where(
            Enquiry.status.in_(("new", "in_progress")))))
        corrections = list(session.scalars(select(RoutingCorrection).where(
            RoutingCorrection.created_at >= since)))
        parses = [d.get("parse_data") or {} for d in session.scalars(
            select(ConversationEvent.data).where(ConversationEvent.type == "user")
            .order_by(ConversationEvent.id.desc()).limit(20000))
            if not str(d.get("text") or "").startswith("/")]
    return [_per_unit(enquiries), _per_week(enquiries), _per_language(enquiries),
            _per_topic(enquiries),
            _per_week_and(enquiries, "per_week_unit", "unit"),
            _per_week_and(enquiries, "per_week_topic", "intent"),
            _per_week_and(enquiries, "per_week_language", "language"),
            _response(enquiries, promised_days, now),
            _open_by_age(open_ones, now), _reroutes(corrections), _unsure_rate(parses),
            Table("ratings", ["unit", "average_score", "ratings"],
                  [list(r) for r in ratings.per_unit(db)])]


def _per_unit(enquiries: list[Enquiry]) -> Table:
    counts = Counter(e.unit for e in enquiries)
    return Table("per_unit", ["unit", "enquiries"],
                 [[unit, n] for unit, n in counts.most_common()])


def _per_week(enquiries: list[Enquiry]) -> Table:
    counts = Counter(_week(_aware(e.created_at)) for e in enquiries)
    return Table("per_week", ["week", "enquiries"], [[w, counts[w]] for w in sorted(counts)])


def _per_week_and(enquiries: list[Enquiry], name: str, column: str) -> Table:
    """Enquiries per week and unit, topic or language (`column`: the attribute)."""
    counts = Counter((_week(_aware(e.created_at)), str(getattr(e, column) or "-"))
                     for e in enquiries)
    label = "topic" if column == "intent" else column
    return Table(name, ["week", label, "enquiries"],
                 [[w, v, n] for (w, v), n in sorted(counts.items())])


def _per_language(enquiries: list[Enquiry]) -> Table:
    counts = Counter(e.language for e in enquiries)
    return Table("per_language", ["language", "enquiries"],
                 [[lang, counts.get(lang, 0)] for lang in ("fi", "sv", "en")])


def _per_topic(enquiries: list[Enquiry]) -> Table:
    counts = Counter(e.intent or "-" for e in enquiries)
    return Table("per_topic", ["topic", "enquiries"],
                 [[topic, n] for topic, n in counts.most_common(15)])


def _response(enquiries: list[Enquiry], promised: dict[str, int], now: datetime) -> Table:
    table = Table("first_response", ["unit", "median_days", "within_promise", "promised_days",
                                     "answered", "waiting"])
    for unit in sorted({e.unit for e in enquiries}):
        mine = [e for e in enquiries if e.unit == unit]
        days = [working_days(_aware(e.created_at), first)
                for e in mine if (first := _first_response(e)) is not None]
        limit = promised.get(unit, 5)
        within = round(100 * sum(d <= limit for d in days) / len(days), 1) if days else None
        table.rows.append([unit, round(stats.median(days), 2) if days else None, within,
                           limit, len(days), len(mine) - len(days)])
    return table


def _open_by_age(open_ones: list[Enquiry], now: datetime) -> Table:
    counts: Counter[str] = Counter()
    for enquiry in open_ones:
        age = (now - _aware(enquiry.created_at)).total_seconds() / 86400
        label = next(name for limit, name in AGE_BUCKETS if limit is None or age < limit)
        counts[label] += 1
    return Table("open_by_age", ["age_days", "open"],
                 [[name, counts.get(name, 0)] for _, name in AGE_BUCKETS])


def _reroutes(corrections: list[RoutingCorrection]) -> Table:
    counts = Counter((c.from_unit, c.to_unit) for c in corrections)
    return Table("reroutes", ["from_unit", "to_unit", "reroutes"],
                 [[a, b, n] for (a, b), n in counts.most_common()])


def _unsure_rate(parses: list[dict[str, Any]]) -> Table:
    table = Table("unsure_per_language", ["language", "fallback_pct", "clarify_pct",
                                          "messages"])
    by_lang: dict[str, Counter[str]] = {}
    for parse in parses:
        lang = (parse.get("language") or {}).get("name") or "fi"
        counter = by_lang.setdefault(lang, Counter())
        counter["all"] += 1
        reason = unsure_reason(parse)
        if reason in ("fallback", "clarify"):
            counter[reason] += 1
    for lang in ("fi", "sv", "en"):
        c = by_lang.get(lang, Counter())
        n = c["all"]
        table.rows.append([lang, round(100 * c["fallback"] / n, 1) if n else None,
                           round(100 * c["clarify"] / n, 1) if n else None, n])
    return table
