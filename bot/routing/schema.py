"""Schema of routing/units.yml, routes.yml and facts.yml (pydantic, unknown keys refused)."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["fi", "sv", "en"]
LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}
# The order `Unit.url_for` and `Urls.get` fall back in when a language has no page.
URL_FALLBACK: tuple[str, ...] = ("en", "fi", "sv")
DAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                         "sunday")
CLOSED = "closed"
FACT_KINDS: tuple[str, ...] = ("processing_time", "fees", "application_period", "attachments",
                               "where_to_apply")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,20}[0-9]$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_url(value: str) -> str:
    """A web address with http(s) and a host, else ValueError saying what is expected."""
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"expected a web address starting with https://, such as "
                         f"https://www.porvoo.fi/fi/..., got {value!r}")
    return value.strip()


def check_hours(value: str | None) -> str | None:
    """'HH:MM-HH:MM' (start before end) or 'closed', else ValueError."""
    if value is None or value == CLOSED:
        return value
    if not isinstance(value, str) or not _HOURS.match(value):
        raise ValueError(f"expected HH:MM-HH:MM such as 08:00-16:00, or 'closed', got {value!r}")
    start, end = value.split("-")
    if start >= end:
        raise ValueError(f"the opening time must come before the closing time, got {value!r}")
    return value


def parse_span(value: str | None) -> tuple[time, time] | None:
    """('08:00-16:00') -> (08:00, 16:00); None or 'closed' -> None (closed)."""
    if value is None or value == CLOSED:
        return None
    start, end = value.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


class Texts(_Strict):
    """One text in each of the three languages."""

    fi: str = Field(min_length=1, title="Finnish")
    sv: str = Field(min_length=1, title="Swedish")
    en: str = Field(min_length=1, title="English")

    def get(self, language: str) -> str:
        """The text in `language`, English when the language is unknown."""
        return str(getattr(self, language, self.en))


class Urls(_Strict):
    """Web pages per language; a language without its own page falls back (en, fi, sv)."""

    fi: str | None = Field(None, title="Finnish page")
    sv: str | None = Field(None, title="Swedish page")
    en: str | None = Field(None, title="English page")

    @model_validator(mode="before")
    @classmethod
    def _one_url_for_all(cls, value: Any) -> Any:
        if isinstance(value, str):
            url = check_url(value)
            return {"fi": url, "sv": url, "en": url}
        return value

    @field_validator("fi", "sv", "en")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Urls:
        if not (self.fi or self.sv or self.en):
            raise ValueError("expected at least one page: fi, sv or en")
        return self

    def get(self, language: str) -> str | None:
        """The page in `language`, else in English, Finnish or Swedish."""
        own = getattr(self, language, None) if language in LANGUAGES else None
        return own or next((getattr(self, lang) for lang in URL_FALLBACK
                            if getattr(self, lang)), None)


class Contact(_Strict):
    """A role-based contact of a unit."""

    role: str = Field(min_length=1, title="Role (never a person's name)")
    title: Texts | None = Field(None, title="Display title of the role in fi, sv and en")
    email: str = Field(title="Role e-mail address")
    phone: str | None = Field(None, title="Role phone number")
    languages: list[Language] = Field(min_length=1, title="Languages this contact serves")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"expected an e-mail address such as unit@example.fi, got {value!r}")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value):
            raise ValueError(f"expected a phone number such as +358 19 520 2000, got {value!r}")
        return value

    def title_for(self, language: str) -> str:
        """The role's display title in `language` (the role id when no title is given)."""
        if self.title is not None:
            return self.title.get(language)
        return self.role.replace("-", " ")


class HoursException(_Strict):
    """Different hours on one date (`date` + `hours`) or over a period (`from`, `to`).

    A period gives either `hours` for every day in it, or per-day hours (`weekdays`,
    `monday` ... `sunday`) that replace only the days they name.
    """

    day: date | None = Field(None, alias="date", title="The date, YYYY-MM-DD")
    start: date | None = Field(None, alias="from", title="First day of a period, YYYY-MM-DD")
    end: date | None = Field(None, alias="to", title="Last day of a period, YYYY-MM-DD")
    hours: str | None = Field(None, title="HH:MM-HH:MM or 'closed', every day covered")
    weekdays: str | None = Field(None, title="Monday to Friday within the period")
    monday: str | None = Field(None, title="Monday within the period")
    tuesday: str | None = Field(None, title="Tuesday within the period")
    wednesday: str | None = Field(None, title="Wednesday within the period")
    thursday: str | None = Field(None, title="Thursday within the period")
    friday: str | None = Field(None, title="Friday within the period")
    saturday: str | None = Field(None, title="Saturday within the period")
    sunday: str | None = Field(None, title="Sunday within the period")
    name: Texts | None = Field(None, title="Why, in fi, sv and en (e.g. summer hours)")

    check_hours_fields = field_validator("hours", "weekdays", *DAYS)(check_hours)

    @model_validator(mode="after")
    def _shape(self) -> HoursException:
        per_day = [d for d in ("weekdays", *DAYS) if getattr(self, d) is not None]
        if self.day is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give either 'date' or 'from' and 'to', not both")
            if self.hours is None or per_day:
                raise ValueError("a single date needs 'hours' (HH:MM-HH:MM or closed) "
                                 "and no per-day hours")
            return self
        if self.start is None or self.end is None:
            raise ValueError("an exception needs 'date', or both 'from' and 'to' "
                             "(YYYY-MM-DD)")
        if self.start > self.end:
            raise ValueError(f"'from' ({self.start}) is after 'to' ({self.end})")
        if (self.hours is None) == (not per_day):
            raise ValueError("a period needs either 'hours' for every day or per-day hours "
                             "('weekdays', 'monday' ... 'sunday'), not both and not neither")
        return self

    @property
    def single(self) -> bool:
        """True for a one-date exception, False for a period."""
        return self.day is not None

    def covers(self, day: date) -> bool:
        """Whether `day` is within this exception."""
        if self.day is not None:
            return day == self.day
        assert self.start is not None and self.end is not None
        return self.start <= day <= self.end

    def weekday_hours(self, weekday: int) -> tuple[bool, str | None]:
        """(applies, hours) on a weekday (0 = Monday) within the exception.

        Per-day hours apply only to the days they name; other days keep the weekly hours.
        """
        if self.hours is not None:
            return True, self.hours
        own = getattr(self, DAYS[weekday])
        if own is not None:
            return True, own
        if weekday < 5 and self.weekdays is not None:
            return True, self.weekdays
        return False, None


class OpeningHours(_Strict):
    """Opening hours as HH:MM-HH:MM (or 'closed').

    `weekdays` applies Monday to Friday; a day's own key (`friday: 08:00-15:00`) replaces
    it; Saturday and Sunday are closed unless given. On top of the week: `exceptions`
    (dates and periods) and, with `public_holidays: true`, Finnish public holidays closed.
    A single-date exception wins over a public holiday, which wins over a period; of
    overlapping periods the shortest applies.
    """

    weekdays: str = Field(title="Monday to Friday, HH:MM-HH:MM")
    monday: str | None = Field(None, title="Monday, when not `weekdays`")
    tuesday: str | None = Field(None, title="Tuesday, when not `weekdays`")
    wednesday: str | None = Field(None, title="Wednesday, when not `weekdays`")
    thursday: str | None = Field(None, title="Thursday, when not `weekdays`")
    friday: str | None = Field(None, title="Friday, when not `weekdays`")
    saturday: str | None = Field(None, title="Saturday, HH:MM-HH:MM (closed when absent)")
    sunday: str | None = Field(None, title="Sunday, HH:MM-HH:MM (closed when absent)")
    exceptions: list[HoursException] = Field(default_factory=list,
                                             title="Dates and periods with other hours")
    public_holidays: bool = Field(True, title="Closed on Finnish public holidays")

    check_hours_fields = field_validator("weekdays", *DAYS)(check_hours)

    def regular(self, weekday: int) -> str | None:
        """The weekly hours of a weekday (0 = Monday), ignoring dates."""
        own = getattr(self, DAYS[weekday])
        if own is not None or weekday >= 5:
            return own
        return self.weekdays


class Unit(_Strict):
    """A unit (or partner) that receives enquiries."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$", title="Unit id")
    names: Texts = Field(title="Name in fi, sv and en")
    handles: Texts = Field(title="What the unit handles, in fi, sv and en")
    url: str | None = Field(None, title="The unit's web page (old form; prefer `urls`)")
    urls: Urls | None = Field(None, title="The unit's web page in fi, sv and en")
    phone: str | None = Field(None, title="Switchboard or service number")
    address: Texts | None = Field(None, title="Visiting address in fi, sv and en")
    referral: bool = Field(False, title="True for partners outside the city")
    non_business: bool = Field(
        False, title="Not a business matter: the bot points here instead of forwarding")
    contacts: list[Contact] = Field(min_length=1, title="Role contacts")
    opening_hours: OpeningHours = Field(title="Opening hours")
    response_time_days: int = Field(ge=1, le=30, title="Expected response time, working days")
    fallback: str | None = Field(title="Unit that takes over when this one cannot")
    webhook_url: str | None = Field(
        None, title="Optional signed JSON webhook for new enquiries (Teams, Slack, case system)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value):
            raise ValueError(f"expected a phone number such as +358 19 520 2000, got {value!r}")
        return value

    @model_validator(mode="after")
    def _fallback_not_self(self) -> Unit:
        if self.fallback == self.id:
            raise ValueError(f"unit '{self.id}' names itself as its fallback")
        if self.urls is None and self.url is not None:
            self.urls = Urls(en=self.url)
        if self.url is None and self.urls is not None:
            self.url = self.urls.get("en")
        return self

    def url_for(self, language: str) -> str | None:
        """The unit's page in `language`, else in English, else in Finnish."""
        return self.urls.get(language) if self.urls is not None else self.url

    def address_for(self, language: str) -> str | None:
        """The visiting address in `language` (English when unknown), or None."""
        return self.address.get(language) if self.address is not None else None


class UnitsFile(_Strict):
    """routing/units.yml."""

    version: int = Field(1, title="File format version")
    timezone: str = Field("Europe/Helsinki", title="Time zone of the opening hours")
    default_unit: str | None = Field(
        None, title="Unit for unclassified enquiries and hand-offs (first unit when absent)")
    complaint_unit: str | None = Field(
        None, title="Unit that receives complaints (`default_unit` when absent)")
    units: list[Unit] = Field(min_length=1, title="Units")


class Condition(_Strict):
    """Route to `unit` when an entity or slot has one of the given values."""

    entity: str | None = Field(None, title="Entity name")
    slot: str | None = Field(None, title="Slot name")
    value: str | None = Field(None, title="Value to match")
    values: list[str] | None = Field(None, title="Values to match")
    unit: str = Field(title="Unit when the condition holds")
    contact: str | None = Field(None, title="Contact role when the condition holds")

    @model_validator(mode="after")
    def _one_source(self) -> Condition:
        if (self.entity is None) == (self.slot is None):
            raise ValueError("a condition needs exactly one of 'entity' or 'slot'")
        if (self.value is None) == (self.values is None):
            raise ValueError("a condition needs exactly one of 'value' or 'values'")
        return self

    def matches(self, entities: dict[str, set[str]], slots: dict[str, object]) -> bool:
        """True when an entity or slot of the enquiry has a wanted value."""
        wanted = {v.lower() for v in (self.values or [self.value or ""])}
        if self.entity is not None:
            return bool(wanted & {v.lower() for v in entities.get(self.entity, set())})
        value = slots.get(self.slot or "")
        return value is not None and str(value).lower() in wanted


class Route(_Strict):
    """One intent's unit, with optional conditions tried first."""

    intent: str = Field(min_length=1, title="Intent name")
    unit: str = Field(title="Unit id")
    contact: str | None = Field(None, title="Contact role within the unit")
    when: list[Condition] = Field(default_factory=list, title="Conditions tried in order")


class RoutesFile(_Strict):
    """routing/routes.yml."""

    version: int = Field(1, title="File format version")
    conversational: list[str] = Field(default_factory=list, title="Intents that never route")
    questions: list[str] = Field(
        default_factory=list, title="Conversational intents that ask about a matter; as a "
        "first message, a question that also names a need routes that need")
    about_matter: list[str] = Field(
        default_factory=list, title="Other conversational intents that may name the open "
        "matter's topic (a complaint, a status question); like the questions, they are "
        "then read as such, not as the need said again")
    routes: list[Route] = Field(title="Routes")


class FactEntry(_Strict):
    """One fact in fi, sv and en, with its source page (one URL, or one per language)."""

    fi: str = Field(min_length=1, title="Finnish")
    sv: str = Field(min_length=1, title="Swedish")
    en: str = Field(min_length=1, title="English")
    source: Urls = Field(title="Source page: one URL, or {fi, sv, en}")


class IntentFacts(_Strict):
    """What customers commonly ask about one intent's matter."""

    processing_time: FactEntry | None = Field(None, title="How long handling takes")
    fees: FactEntry | None = Field(None, title="What it costs")
    application_period: FactEntry | None = Field(None, title="When to apply")
    attachments: FactEntry | None = Field(None, title="What to attach")
    where_to_apply: FactEntry | None = Field(None, title="Where and how to apply")


class FactsFile(_Strict):
    """routing/facts.yml."""

    version: int = Field(1, title="File format version")
    facts: dict[str, IntentFacts] = Field(default_factory=dict, title="Facts per intent")
