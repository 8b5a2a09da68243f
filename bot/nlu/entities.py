"""Entity extraction: validated patterns, Rasa regex/lookup/synonym data, spaCy names.

- e-mail, phone, business_id (checksum) and personal_id (checksum, flagged sensitive);
- Rasa `regex:` and `lookup:` sections through a spaCy EntityRuler per language, matched
  on lower case and, for Finnish and Swedish, on lemmas too (so inflected forms match);
- Finnish organisation and person names from the `spacy-fi-experimental-web-md` pipeline
  (`company` and `person`), and company names with a legal-form suffix in any language;
- Rasa synonyms map extracted values to their canonical value.
"""

from __future__ import annotations

import re
from typing import Any

from bot.nlu import validators

_COMPANY_FORM = re.compile(
    r"\b((?:[A-ZÅÄÖ][\w&'.-]*\s+){0,3}[A-ZÅÄÖ][\w&'.-]*)\s+(Oy|Oyj|Ab|Abp|Ky|Ay|Tmi|Ltd|AB)\b"
)
_FI_MODEL = "spacy_fi_experimental_web_md"


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


class EntityExtractor:
    """All entity extractors of the pipeline, built from the training data's patterns."""

    def __init__(self, patterns: dict[str, Any], use_finnish_pipeline: bool = True) -> None:
        import spacy

        self.synonyms: dict[str, str] = {k.lower(): v for k, v in patterns["synonyms"].items()}
        self._regexes = [(name, re.compile(p, re.IGNORECASE)) for name, p in patterns["regexes"]
                         if name not in {"business_id"}]  # validated extractor handles it
        self._lookups: dict[str, list[str]] = patterns["lookups"]
        self._nlp: dict[str, Any] = {}
        self.finnish_pipeline = False
        if use_finnish_pipeline:
            try:
                nlp = spacy.load(_FI_MODEL, exclude=["parser"])
                self.finnish_pipeline = True
            except (OSError, ImportError):
                nlp = spacy.blank("fi")
            self._nlp["fi"] = nlp
        else:
            self._nlp["fi"] = spacy.blank("fi")
        for lang in ("sv", "en"):
            self._nlp[lang] = spacy.blank(lang)
        for lang, nlp in self._nlp.items():
            ruler = nlp.add_pipe("entity_ruler", name="lookup_ruler", last=True,
                                 config={"overwrite_ents": True, "phrase_matcher_attr": "LOWER"})
            ruler.add_patterns(self._lookup_patterns(lang))

    def _lookup_patterns(self, lang: str) -> list[dict[str, Any]]:
        patterns: list[dict[str, Any]] = []
        for name, values in self._lookups.items():
            for value in values:
                words = value.lower().split()
                patterns.append({"label": name, "pattern": value})
                # Inflected forms: "Tarmolas", "Tarmolasta" share the word's beginning ...
                patterns.append({"label": name, "pattern": [
                    {"LOWER": {"REGEX": "^" + re.escape(w) + r"\w{0,5}$"}} for w in words]})
                if lang == "fi" and self.finnish_pipeline:
                    # ... and Finnish stem changes are caught by the lemma:
                    # "Kilpilahdessa" -> "Kilpilahti", "Vanhassa Porvoossa" -> "vanha Porvoo".
                    patterns.append({"label": name, "pattern": [
                        {"LEMMA": {"REGEX": "(?i)^" + re.escape(w) + "$"}} for w in words]})
        return patterns

    def _canonical(self, entity: dict[str, Any]) -> dict[str, Any]:
        key = str(entity["value"]).lower()
        if key in self.synonyms:
            entity["value"] = self.synonyms[key]
            entity["processors"] = ["synonym_mapper"]
        return entity

    def extract(self, text: str, language: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Return (entities, lemmas) for `text` in `language`."""
        entities = extract_validated(text)
        taken = [(e["start"], e["end"]) for e in entities]

        def free(start: int, end: int) -> bool:
            return not any(s < end and start < e for s, e in taken)

        for name, rx in self._regexes:
            for m in rx.finditer(text):
                if free(m.start(), m.end()):
                    entities.append(_entity(name, m.start(), m.end(), text, m.group(0), "regex"))
                    taken.append((m.start(), m.end()))
        nlp = self._nlp.get(language, self._nlp["en"])
        doc = nlp(text)
        for ent in doc.ents:
            label = {"ORG": "company", "PERSON": "person"}.get(ent.label_, ent.label_)
            if label not in {"company", "person"} and label not in self._lookups:
                continue
            if free(ent.start_char, ent.end_char):
                value = ent.text if label in {"company", "person"} else ent.ent_id_ or ent.text
                if label in self._lookups:
                    value = self._lookup_value(label, ent.text, ent.lemma_)
                entities.append(_entity(label, ent.start_char, ent.end_char, text, value,
                                        "spacy" if label in {"company", "person"} else "lookup"))
                taken.append((ent.start_char, ent.end_char))
        for m in _COMPANY_FORM.finditer(text):
            if free(m.start(), m.end()):
                entities.append(_entity("company", m.start(), m.end(), text, m.group(0),
                                        "pattern"))
                taken.append((m.start(), m.end()))
        lemmas = [t.lemma_ or t.lower_ for t in doc if not t.is_space]
        entities.sort(key=lambda e: e["start"])
        return [self._canonical(e) for e in entities], lemmas

    def _lookup_value(self, label: str, text: str, lemma: str) -> str:
        lower = {v.lower(): v for v in self._lookups[label]}
        for candidate in (text.lower(), lemma.lower()):
            if candidate in lower:
                return lower[candidate]
        for key, value in lower.items():
            if text.lower().startswith(key):
                return value
        return text
