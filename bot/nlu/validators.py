"""Validated patterns: e-mail, Finnish phone numbers, business ID and personal identity code.

Pure functions; the entity extractor and (later) form validation both use them.
"""

from __future__ import annotations

import re

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# +358 40 123 4567, 040-123 4567, 0401234567, (09) 123 456, 019 520 0000
PHONE = re.compile(r"(?<![\w+])(?:\+358[\s-]?\(?0?\)?|\(?0)\d{1,3}\)?(?:[\s-]?\d){4,9}(?!\d)")
BUSINESS_ID = re.compile(r"(?<![\d-])(\d{6,7})-(\d)(?![\d-])")
PERSONAL_ID = re.compile(
    r"(?<![\w-])(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])(?![\w-])", re.IGNORECASE
)

_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
_PERSONAL_ID_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def business_id_is_valid(value: str) -> bool:
    """Check a Finnish business ID (Y-tunnus, FO-nummer) such as 3416721-2 by its checksum."""
    m = BUSINESS_ID.fullmatch(value.strip())
    if not m:
        return False
    digits = m.group(1).zfill(7)
    remainder = sum(int(d) * w for d, w in zip(digits, _BUSINESS_ID_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return False
    expected = 0 if remainder == 0 else 11 - remainder
    return int(m.group(2)) == expected


def normalise_business_id(value: str) -> str:
    """Return the business ID with its leading zero restored (1234567-8 form)."""
    number, _, check = value.strip().partition("-")
    return f"{number.zfill(7)}-{check}"


def personal_id_is_valid(value: str) -> bool:
    """Check a Finnish personal identity code (henkilötunnus) by its control character."""
    m = PERSONAL_ID.fullmatch(value.strip())
    if not m:
        return False
    day, month = int(m.group(1)), int(m.group(2))
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    number = int(m.group(1) + m.group(2) + m.group(3) + m.group(5))
    return _PERSONAL_ID_CHECK[number % 31] == m.group(6).upper()


def normalise_phone(value: str) -> str | None:
    """Return a Finnish phone number in +358 form, or None when it is not a plausible one."""
    digits = re.sub(r"[^\d+]", "", value)
    if digits.startswith("+358"):
        rest = digits[4:].lstrip("0")
    elif digits.startswith("0"):
        rest = digits[1:]
    else:
        return None
    if not 6 <= len(rest) <= 10:
        return None
    return "+358" + rest


def email_is_valid(value: str) -> bool:
    """Check the form of an e-mail address."""
    return bool(EMAIL.fullmatch(value.strip()))


def mask_personal_ids(text: str, mask: str = "[henkilötunnus]") -> str:
    """Replace valid Finnish personal identity codes in `text` with `mask`."""

    def _sub(m: re.Match[str]) -> str:
        return mask if personal_id_is_valid(m.group(0)) else m.group(0)

    return PERSONAL_ID.sub(_sub, text)
