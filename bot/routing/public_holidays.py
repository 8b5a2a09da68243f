"""Finnish public holidays and their names in fi, sv and en (the `holidays` package).

A year's holidays are computed once per language and kept; `preload` does it while the
routing table loads, so answering a message reads no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays

COUNTRY = "FI"
# Our language -> the package's language code for Finland (fi, sv_FI, en_US).
_PACKAGE_LANGUAGE = {"fi": "fi", "sv": "sv_FI", "en": "en_US"}


@lru_cache(maxsize=64)
def _year(year: int, language: str) -> dict[date, str]:
    code: str | None = _PACKAGE_LANGUAGE.get(language, "en_US")
    if code not in holidays.list_localized_countries().get(COUNTRY, []):
        code = None  # a package without this translation: its default names (Finnish)
    calendar = holidays.country_holidays(COUNTRY, years=year, language=code)
    return {day: str(name) for day, name in calendar.items()}


def preload(years: Iterable[int]) -> None:
    """Compute the holidays of `years` in every language now."""
    for year in years:
        for language in _PACKAGE_LANGUAGE:
            _year(year, language)


def holiday_name(day: date, language: str = "fi") -> str | None:
    """The public holiday's name on `day` in `language` (fi, sv, en), or None.

    Finnish and Swedish names start lower case as in running text ('jouluaatto',
    'julafton'); English keeps its capitals ('Christmas Eve').
    """
    name = _year(day.year, language).get(day)
    if name is None or language not in ("fi", "sv"):
        return name
    return name[:1].lower() + name[1:]


def is_public_holiday(day: date) -> bool:
    """Whether `day` is a Finnish public holiday."""
    return day in _year(day.year, "fi")
