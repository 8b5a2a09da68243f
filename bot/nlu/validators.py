"""Validated patterns: e-mail, phone numbers, business ID and personal identity code.

Pure functions; the entity extractor and the form's validation both use them. The checks
come from maintained libraries: python-stdnum for the business ID (Y-tunnus) and the
personal identity code (henkilötunnus, dates included), phonenumbers for phone numbers
(Finnish by default, international numbers with their country code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from stdnum.fi import hetu, ytunnus

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# +358 40 123 4567, 040-123 4567, 0401234567, (09) 123 456, 019 520 0000, +46 8 123 456 78
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s-]?\(?0?\)?|\(?0)\d{1,3}\)?(?:[\s-]?\d){4,9}(?!\d)")
BUSINESS_ID = re.compile(r"(?<![\d-])(\d{6,7})-(\d)(?![\d-])")
PERSONAL_ID = re.compile(
    r"(?<![\w-])(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])(?![\w-])", re.IGNORECASE
)

def business_id_is_valid(value: str) -> bool:
    """Check a Finnish business ID (Y-tunnus, FO-nummer) such as 3416721-2."""
    m = BUSINESS_ID.fullmatch(value.strip())
    if m is None:
        return False
    return bool(ytunnus.is_valid(f"{m.group(1).zfill(7)}-{m.group(2)}"))


def business_id_in(text: str) -> str | None:
    """The business ID when `text` holds one in its written shape and no other number.

    The shape is seven digits, a hyphen and a check digit (1234567-8), whatever the check
    digit: "Y-tunnus 2890123-0" or "FO-nummer: 1234567-8" is a business ID (valid or not),
    never a phone number, although phonenumbers reads some (2890123-0) as one.
    """
    m = BUSINESS_ID.search(text)
    if m is None or len(m.group(1)) != 7:
        return None
    rest = text[:m.start()] + text[m.end():]
    return None if any(ch.isdigit() for ch in rest) else m.group(0)


def normalise_business_id(value: str) -> str:
    """Return the business ID with its leading zero restored (1234567-8 form)."""
    number, _, check = value.strip().partition("-")
    return f"{number.zfill(7)}-{check}"


def personal_id_is_valid(value: str) -> bool:
    """Check a Finnish personal identity code (henkilötunnus): date and control character."""
    if PERSONAL_ID.fullmatch(value.strip()) is None:
        return False
    return bool(hetu.is_valid(value.strip().upper()))


def normalise_phone(value: str) -> str | None:
    """A phone number in international (E.164) form, or None when it is not a valid one.

    Finnish when it has no country code ("040 123 4567"); any country with one.
    """
    try:
        number = phonenumbers.parse(value.strip(), "FI")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_is_valid(value: str) -> bool:
    """Check the form of an e-mail address."""
    return bool(EMAIL.fullmatch(value.strip()))


def mask_personal_ids(text: str, mask: str = "[henkilötunnus]") -> str:
    """Replace valid Finnish personal identity codes in `text` with `mask`."""

    def _sub(m: re.Match[str]) -> str:
        return mask if personal_id_is_valid(m.group(0)) else m.group(0)

    return PERSONAL_ID.sub(_sub, text)


# A part of a name this long or longer is masked also with an ending ("Kovalenkolle"); a
# Finnish -nen name also in its inflected stem ("Virtanen": "Virtasen", "Virtaselle").
NAME_PREFIX_CHARS = 4


def _name_word(word: str) -> str:
    if len(word) < NAME_PREFIX_CHARS:
        return re.escape(word) + r"(?!\w)"
    if word.lower().endswith("nen"):
        return rf"{re.escape(word[:-3])}(?:nen|s)\w*"
    return re.escape(word) + r"\w*"


def mask_names(text: str, names: Iterable[str], mask: str = "[name]") -> str:
    """Replace each word of the given `names` (a customer's as they gave it) in `text`.

    Case is ignored; words of NAME_PREFIX_CHARS letters or more also with an ending.
    """
    words = sorted({w for name in names for w in re.findall(r"\w+", name or "")
                    if len(w) >= 2 and not w.isdigit()}, key=len, reverse=True)
    if not words:
        return text
    pattern = "|".join(_name_word(w) for w in words)
    masked = re.sub(rf"(?<!\w)(?:{pattern})", mask, text, flags=re.IGNORECASE)
    return re.sub(rf"{re.escape(mask)}(?:\s+{re.escape(mask)})+", mask, masked)


def mask_personal_data(text: str, names: Iterable[str] = ()) -> str:
    """`text` with personal data masked: the one masker of review texts and exports.

    Personal identity codes ([id]), e-mail addresses ([email]), business IDs
    ([business-id]), phone numbers ([phone]) and the words of `names` ([name]).
    """
    text = mask_personal_ids(text, "[id]")
    text = EMAIL.sub("[email]", text)
    text = BUSINESS_ID.sub("[business-id]", text)
    text = PHONE.sub("[phone]", text)
    return mask_names(text, names)
