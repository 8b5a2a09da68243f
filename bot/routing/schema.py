"""Schema of routing/units.yml and routing/routes.yml (pydantic, unknown keys refused)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["fi", "sv", "en"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Texts(_Strict):
    """One text in each of the three languages."""

    fi: str = Field(min_length=1, title="Finnish")
    sv: str = Field(min_length=1, title="Swedish")
    en: str = Field(min_length=1, title="English")

    def get(self, language: str) -> str:
        """The text in `language`, English when the language is unknown."""
        return str(getattr(self, language, self.en))


class Contact(_Strict):
    """A role-based contact of a unit."""

    role: str = Field(min_length=1, title="Role (never a person's name)")
    email: str = Field(title="Role e-mail address")
    phone: str | None = Field(None, title="Role phone number")
    languages: list[Language] = Field(min_length=1, title="Languages this contact serves")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"expected an e-mail address such as unit@example.fi, got {value!r}")
        return value


class OpeningHours(_Strict):
    """Opening hours as HH:MM-HH:MM; weekdays apply Monday to Friday."""

    weekdays: str = Field(title="Monday to Friday, HH:MM-HH:MM")
    saturday: str | None = Field(None, title="Saturday, HH:MM-HH:MM")
    sunday: str | None = Field(None, title="Sunday, HH:MM-HH:MM")

    @field_validator("weekdays", "saturday", "sunday")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None and not _HOURS.match(value):
            raise ValueError(f"expected HH:MM-HH:MM such as 08:00-16:00, got {value!r}")
        return value


class Unit(_Strict):
    """A unit (or partner) that receives enquiries."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$", title="Unit id")
    names: Texts = Field(title="Name in fi, sv and en")
    handles: Texts = Field(title="What the unit handles, in fi, sv and en")
    url: str | None = Field(None, title="The unit's web page")
    referral: bool = Field(False, title="True for partners outside the city")
    contacts: list[Contact] = Field(min_length=1, title="Role contacts")
    opening_hours: OpeningHours = Field(title="Opening hours")
    response_time_days: int = Field(ge=1, le=30, title="Expected response time, working days")
    fallback: str | None = Field(title="Unit that takes over when this one cannot")
    webhook_url: str | None = Field(
        None, title="Optional signed JSON webhook for new enquiries (Teams, Slack, case system)")

    @model_validator(mode="after")
    def _fallback_not_self(self) -> Unit:
        if self.fallback == self.id:
            raise ValueError(f"unit '{self.id}' names itself as its fallback")
        return self


class UnitsFile(_Strict):
    """routing/units.yml."""

    version: int = Field(1, title="File format version")
    timezone: str = Field("Europe/Helsinki", title="Time zone of the opening hours")
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
    routes: list[Route] = Field(title="Routes")
