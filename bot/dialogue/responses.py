"""Response selection: the variation whose `condition` matches the slots (the language)."""

from __future__ import annotations

import random
import string
from typing import Any

from bot.dialogue.domain import Domain, ResponseVariation


class _SlotFormatter(string.Formatter):
    """Fills {name} from slots and keyword arguments; unknown names stay as written."""

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str):
            value = kwargs.get(key)
            return "{" + key + "}" if value is None else value
        return super().get_value(key, args, kwargs)


_FORMATTER = _SlotFormatter()


def fill_template(text: str, values: dict[str, Any]) -> str:
    """Replace {slot} placeholders; text without placeholders is returned unchanged."""
    if "{" not in text:
        return text
    try:
        return _FORMATTER.format(text, **{k: v for k, v in values.items() if v is not None})
    except (ValueError, IndexError, KeyError):
        return text


def matching_variations(domain: Domain, name: str, slots: dict[str, Any]
                        ) -> list[ResponseVariation]:
    """Variations whose conditions hold; unconditional ones only when none is conditional."""
    variations = domain.responses.get(name, [])
    conditional = [v for v in variations if v.condition and all(
        slots.get(c.name) == c.value for c in v.condition)]
    return conditional or [v for v in variations if not v.condition]


def render_response(domain: Domain, response: str, slots: dict[str, Any],
                    rng: random.Random | None = None, values: dict[str, Any] | None = None
                    ) -> dict[str, Any] | None:
    """The message for `response` in the conversation's language, or None if none fits.

    `{placeholders}` are filled from `values` first, then from the slots.
    """
    options = matching_variations(domain, response, slots)
    if not options:
        return None
    chosen = (rng or random).choice(options) if len(options) > 1 else options[0]
    values = {**slots, **(values or {})}
    message: dict[str, Any] = {"text": fill_template(chosen.text or "", values),
                               "response": response}
    if chosen.buttons:
        message["buttons"] = [{"title": fill_template(b.title, values), "payload": b.payload}
                              for b in chosen.buttons]
    if chosen.custom:
        message["custom"] = chosen.custom
    return message
