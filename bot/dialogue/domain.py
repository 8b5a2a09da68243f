"""The domain (Rasa 3.x `domain.yml`): intents, entities, slots, forms, responses, actions.

Every key is validated: a Rasa key this engine does not run is an error that names the
file and the key, never silently ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.errors import DomainError
from bot.yaml_io import read_yaml, validated

REQUESTED_SLOT = "requested_slot"
LANGUAGE_SLOT = "language"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MappingCondition(_Strict):
    """A slot mapping applies only while this loop is active (and this slot is asked)."""

    active_loop: str | None = Field(title="Active loop (form) name")
    requested_slot: str | None = Field(default=None, title="Slot being asked for")


class SlotMapping(_Strict):
    """How a slot is filled from a user message."""

    type: Literal["from_entity", "from_text", "from_intent", "from_trigger_intent", "custom"]
    entity: str | None = Field(default=None, title="Entity (from_entity)")
    intent: str | list[str] | None = Field(default=None, title="Only for these intents")
    not_intent: str | list[str] | None = Field(default=None, title="Not for these intents")
    value: Any = Field(default=None, title="Value (from_intent)")
    action: str | None = Field(default=None, title="Action that fills it (custom)")
    conditions: list[MappingCondition] = Field(default_factory=list, title="Conditions")

    @model_validator(mode="after")
    def _check(self) -> SlotMapping:
        if self.type == "from_entity" and not self.entity:
            raise ValueError("a from_entity mapping needs 'entity'")
        if self.type in ("from_intent", "from_trigger_intent") and self.value is None:
            raise ValueError(f"a {self.type} mapping needs 'value'")
        return self

    def intent_allowed(self, intent: str | None) -> bool:
        """Whether the mapping applies to a message of `intent`."""
        wanted = [self.intent] if isinstance(self.intent, str) else self.intent
        unwanted = [self.not_intent] if isinstance(self.not_intent, str) else self.not_intent
        if wanted and intent not in wanted:
            return False
        return not (unwanted and intent in unwanted)


class Slot(_Strict):
    """A slot: a piece of conversation memory."""

    type: Literal["text", "bool", "categorical", "float", "list", "any"] = "any"
    values: list[Any] | None = Field(default=None, title="Values (categorical)")
    initial_value: Any = Field(default=None, title="Initial value")
    influence_conversation: bool = Field(default=False, title="Used by rules as a feature")
    mappings: list[SlotMapping] = Field(default_factory=list, title="Mappings")
    min_value: float | None = None
    max_value: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Slot:
        if self.type == "categorical" and not self.values:
            raise ValueError("a categorical slot needs 'values'")
        return self


class Form(_Strict):
    """A form: an active loop that asks for its required slots in turn."""

    required_slots: list[str] = Field(title="Slots the form asks for, in order")
    ignored_intents: list[str] = Field(default_factory=list, title="Intents never mapped")


class ResponseCondition(_Strict):
    """A response variation applies when a slot has a value."""

    type: Literal["slot"] = "slot"
    name: str
    value: Any


class Button(_Strict):
    """A quick-reply button."""

    title: str
    payload: str


class ResponseVariation(_Strict):
    """One variation of a response."""

    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    condition: list[ResponseCondition] = Field(default_factory=list)
    id: str | None = None
    custom: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ResponseVariation:
        if not self.text and not self.custom:
            raise ValueError("a response variation needs 'text' (or 'custom')")
        return self


class SessionConfig(_Strict):
    """When a conversation session expires, and what it carries over."""

    session_expiration_time: float = Field(default=60, title="Minutes of silence", ge=0)
    carry_over_slots_to_new_session: bool = True


class DomainFile(_Strict):
    """The whole domain.yml."""

    version: str = "3.1"
    intents: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    slots: dict[str, Slot] = Field(default_factory=dict)
    forms: dict[str, Form] = Field(default_factory=dict)
    responses: dict[str, list[ResponseVariation]] = Field(default_factory=dict)
    actions: list[str] = Field(default_factory=list)
    session_config: SessionConfig = Field(default_factory=SessionConfig)

    @field_validator("intents", "entities", mode="before")
    @classmethod
    def _names_only(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    raise ValueError(
                        f"per-item properties ({', '.join(map(str, item))}) are not supported; "
                        "list plain names")
        return value


class Domain:
    """The validated domain with the look-ups the dialogue engine needs."""

    def __init__(self, spec: DomainFile, path: str | Path = "domain.yml") -> None:
        self.spec = spec
        self.path = Path(path)
        self.slots = dict(spec.slots)
        self.slots.setdefault(REQUESTED_SLOT, Slot(type="any"))
        self.forms = spec.forms
        self.responses = spec.responses
        self.intents = spec.intents
        self.entities = spec.entities
        self.session_config = spec.session_config
        self._check()

    def _check(self) -> None:
        for form_name, form in self.forms.items():
            for required in form.required_slots:
                if required not in self.slots:
                    raise DomainError(self.path, f"form requires slot '{required}', which is not "
                                      "declared under 'slots'", f"forms.{form_name}")
        for slot_name, slot in self.slots.items():
            for i, mapping in enumerate(slot.mappings):
                for cond in mapping.conditions:
                    if cond.active_loop and cond.active_loop not in self.forms:
                        raise DomainError(
                            self.path, f"condition names unknown form '{cond.active_loop}'",
                            f"slots.{slot_name}.mappings.{i}.conditions")
                if mapping.entity and mapping.entity not in self.entities:
                    raise DomainError(self.path, f"entity '{mapping.entity}' is not declared "
                                      "under 'entities'", f"slots.{slot_name}.mappings.{i}")
        for name, variations in self.responses.items():
            if not name.startswith("utter_"):
                raise DomainError(self.path, "response names start with 'utter_'",
                                  f"responses.{name}")
            for variation in variations:
                for when in variation.condition:
                    if when.name not in self.slots:
                        raise DomainError(self.path, f"condition on unknown slot '{when.name}'",
                                          f"responses.{name}")

    @property
    def action_names(self) -> list[str]:
        """Custom actions and forms declared in the domain."""
        return list(self.spec.actions)

    def initial_slots(self) -> dict[str, Any]:
        """Every slot at its initial value."""
        return {name: slot.initial_value for name, slot in self.slots.items()}

    def as_dict(self) -> dict[str, Any]:
        """The domain as rasa-sdk actions receive it (Rasa's JSON shape)."""
        data = self.spec.model_dump(mode="json", exclude_none=True)
        data["slots"] = {name: slot.model_dump(mode="json", exclude_none=True)
                         for name, slot in self.slots.items()}
        data["forms"] = {name: form.model_dump(mode="json") for name, form in self.forms.items()}
        data["config"] = {"store_entities_as_slots": False}
        return data

    def digest(self) -> str:
        """A stable hash of the domain (rasa-sdk caches the domain by it)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def load_domain(path: str | Path) -> Domain:
    """Read and validate domain.yml.

    Raises:
        DomainError: naming the file and the key of the first problem.
    """
    path = Path(path)
    raw = read_yaml(path, DomainError)
    if not isinstance(raw, dict):
        raise DomainError(path, "expected a mapping with intents, slots, responses, ...")
    return Domain(validated(DomainFile, raw, path, DomainError), path)
