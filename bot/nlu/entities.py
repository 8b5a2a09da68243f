"""Entity extraction: validated patterns, Rasa regex/lookup/synonym data, Finnish base forms.

- e-mail, phone, business_id (checksum) and personal_id (checksum, flagged sensitive);
- Rasa `regex:` sections, and `lookup:` sections matched word by word on lower case, on a
  word's beginning (so "Tarmolassa", "ruotsiksi" match) and, for Finnish, on the word's base
  form from Voikko (so stem changes match: "Kilpilahdessa" -> "Kilpilahti");
- company names with a legal-form suffix in any language ("Koodi Aho Oy");
- Rasa synonyms map extracted values to their canonical value.

An earlier version ran the Finnish spaCy pipeline (spacy-fi-experimental-web-md) for base
forms and organisation/person names: 260 MB per process, about 10 ms a message and torch's
import, for names that no slot or route used and base forms that Voikko (the pipeline's
own lemmatiser) gives alone.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any, NamedTuple

from bot.nlu import validators

logger = logging.getLogger(__name__)

_COMPANY_FORM = re.compile(
    r"\b((?:[A-ZÅÄÖ][\w&'.-]*\s+){0,3}[A-ZÅÄÖ][\w&'.-]*)\s+(Oy|Oyj|Ab|Abp|Ky|Ay|Tmi|Ltd|AB)\b"
)
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*")
#: Letters a lookup word may gain at its end and still match ("Tarmola" -> "Tarmolasta").
MAX_SUFFIX_CHARS = 5
#: Distinct words whose Finnish base forms are remembered (in memory only).
BASE_FORM_CACHE_SIZE = 20_000


class Token(NamedTuple):
    """One word of a message with its position."""

    lower: str
    start: int
    end: int


class _LookupEntry(NamedTuple):
    label: str
    value: str
    words: tuple[str, ...]


def tokens(text: str) -> list[Token]:
    """The words of `text` in lower case, with their character offsets."""
    return [Token(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _entity(name: str, start: int, end: int, text: str, value: Any, extractor: str,
            **extra: Any) -> dict[str, Any]:
    return {"entity": name, "start": start, "end": end, "text": text[start:end], "value": value,
            "extractor": extractor, **extra}


def extract_validated(text: str) -> list[dict[str, Any]]:
    """Find e-mails, phone numbers, business IDs and personal identity codes."""
    found: list[dict[str, Any]] = []
    for m in validators.EMAIL.finditer(text):
        found.append(_entity("email", m.start(), m.end(), text, m.group(0).lower(), "validated"))
    for m in validators.PERSONAL_ID.finditer(text):
        if validators.personal_id_is_valid(m.group(0)):
            found.append(_entity("personal_id", m.start(), m.end(), text, m.group(0).upper(),
                                 "validated", sensitive=True))
    for m in validators.BUSINESS_ID.finditer(text):
        valid = validators.business_id_is_valid(m.group(0))
        found.append(_entity("business_id", m.start(), m.end(), text,
                             validators.normalise_business_id(m.group(0)), "validated",
                             valid=valid))
    taken = [(e["start"], e["end"]) for e in found]
    for m in validators.PHONE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        phone = validators.normalise_phone(m.group(0))
        if phone:
            found.append(_entity("phone", m.start(), m.end(), text, phone, "validated"))
    return found


class FinnishBaseForms:
    """Base forms of Finnish words from Voikko (Debian packages libvoikko1 and voikko-fi).

    A Voikko handle is not thread-safe: calls are serialised, and each distinct word is
    analysed once (a bounded in-memory cache).

    Raises:
        OSError: when the Voikko library or its Finnish dictionary is not installed.
    """

    def __init__(self) -> None:
        import libvoikko

        self._voikko = libvoikko.Voikko("fi")
        self._lock = threading.Lock()
        self.base_forms = lru_cache(maxsize=BASE_FORM_CACHE_SIZE)(self._analyse)

    def _analyse(self, word: str) -> frozenset[str]:
        with self._lock:
            analyses = self._voikko.analyze(word)
        return frozenset(str(a["BASEFORM"]).lower() for a in analyses if a.get("BASEFORM"))


@lru_cache(maxsize=1)
def finnish_base_forms() -> FinnishBaseForms | None:
    """The process's one Voikko analyser, or None (with a warning) where it is missing."""
    try:
        return FinnishBaseForms()
    except (OSError, ImportError) as exc:
        logger.warning(
            "Finnish base forms are off: Voikko is not available (%s). Install the Debian "
            "packages libvoikko1 and voikko-fi (scripts/setup.sh does). Lookup entities still "
            "match on a word's beginning.", exc)
        return None


class EntityExtractor:
    """All entity extractors of the pipeline, built from the training data's patterns."""

    def __init__(self, patterns: dict[str, Any], use_finnish_lemmas: bool = True) -> None:
        self.synonyms: dict[str, str] = {k.lower(): v for k, v in patterns["synonyms"].items()}
        self._regexes = [(name, re.compile(p, re.IGNORECASE)) for name, p in patterns["regexes"]
                         if name not in {"business_id"}]  # validated extractor handles it
        self._lookups: dict[str, list[str]] = patterns["lookups"]
        self._entries = [
            _LookupEntry(label, value, words)
            for label, values in self._lookups.items() for value in values
            if (words := tuple(t.lower for t in tokens(value)))]
        self._base_forms = finnish_base_forms() if use_finnish_lemmas else None
        self.finnish_lemmas = self._base_forms is not None

    @staticmethod
    def _word_matches(token: Token, forms: frozenset[str], word: str) -> bool:
        if word in forms:
            return True
        return (token.lower.startswith(word) and len(token.lower) - len(word) <= MAX_SUFFIX_CHARS
                and token.lower[len(word):].isalpha())

    def _lookup_matches(self, words: list[Token], language: str
                        ) -> list[tuple[int, int, _LookupEntry]]:
        """(first token, end token, entry) of every lookup value found, longest first."""
        base = self._base_forms.base_forms if self._base_forms and language == "fi" else None
        forms = [frozenset({t.lower}) | base(t.lower) if base else frozenset({t.lower})
                 for t in words]
        found = []
        for i in range(len(words)):
            for entry in self._entries:
                n = len(entry.words)
                if i + n <= len(words) and all(
                        self._word_matches(words[i + k], forms[i + k], entry.words[k])
                        for k in range(n)):
                    found.append((i, i + n, entry))
        found.sort(key=lambda f: (f[0] - f[1], f[0]))
        return found

    def _canonical(self, entity: dict[str, Any]) -> dict[str, Any]:
        key = str(entity["value"]).lower()
        if key in self.synonyms:
            entity["value"] = self.synonyms[key]
            entity["processors"] = ["synonym_mapper"]
        return entity

    def extract(self, text: str, language: str) -> list[dict[str, Any]]:
        """The entities of `text` in `language`, in the order they appear."""
        entities = extract_validated(text)
        taken = [(e["start"], e["end"]) for e in entities]

        def free(start: int, end: int) -> bool:
            return not any(s < end and start < e for s, e in taken)

        for name, rx in self._regexes:
            for m in rx.finditer(text):
                if free(m.start(), m.end()):
                    entities.append(_entity(name, m.start(), m.end(), text, m.group(0), "regex"))
                    taken.append((m.start(), m.end()))
        words = tokens(text)
        for first, end, entry in self._lookup_matches(words, language):
            start, stop = words[first].start, words[end - 1].end
            if free(start, stop):
                entities.append(_entity(entry.label, start, stop, text, entry.value, "lookup"))
                taken.append((start, stop))
        for m in _COMPANY_FORM.finditer(text):
            if free(m.start(), m.end()):
                entities.append(_entity("company", m.start(), m.end(), text, m.group(0),
                                        "pattern"))
                taken.append((m.start(), m.end()))
        entities.sort(key=lambda e: e["start"])
        return [self._canonical(e) for e in entities]
