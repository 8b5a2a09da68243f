"""Loader for Rasa 3.x NLU training data (`nlu:` with intent, synonym, regex, lookup)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.constants import SUPPORTED_LANGUAGES
from bot.errors import TrainingDataError
from bot.yaml_io import read_yaml, yaml_files

# Top-level keys of a Rasa data file. Dialogue sections are read by bot/dialogue, not here.
KNOWN_TOP_KEYS = {"version", "nlu", "rules", "stories", "responses", "intents", "entities"}
ITEM_KINDS = ("intent", "synonym", "regex", "lookup")
ITEM_KEYS = {*ITEM_KINDS, "examples", "metadata"}

# [text](entity), [text](entity:value), [text]{"entity": "e", "value": "v"}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass
class Example:
    """One training example with its annotations removed."""

    text: str
    intent: str
    language: str | None
    entities: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""


@dataclass
class TrainingData:
    """Everything read from one or more Rasa NLU files."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def intents(self) -> list[str]:
        """Sorted intent names."""
        return sorted({e.intent for e in self.examples})

    def counts(self) -> dict[str, Counter[str]]:
        """Number of examples per intent and language."""
        out: dict[str, Counter[str]] = {}
        for e in self.examples:
            out.setdefault(e.intent, Counter())[e.language or "?"] += 1
        return out

    def for_language(self, language: str) -> list[Example]:
        """Examples of one language."""
        return [e for e in self.examples if e.language == language]

    def entity_patterns(self) -> dict[str, Any]:
        """The parts of the data that the entity extractors need at run time."""
        return {"synonyms": self.synonyms, "regexes": self.regexes, "lookups": self.lookups}


def parse_annotated(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Strip Rasa entity annotations from `text` and return (plain text, entities).

    Raises:
        ValueError: when an annotation's JSON form is malformed.
    """
    entities: list[dict[str, Any]] = []
    plain: list[str] = []
    pos = 0
    cursor = 0
    for m in _ANNOTATION.finditer(text):
        plain.append(text[pos : m.start()])
        cursor += m.start() - pos
        value_text = m.group("text")
        if m.group("json"):
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"annotation {m.group(0)!r} is not valid JSON: {exc.msg}") from exc
            name = spec.get("entity")
            value = spec.get("value", value_text)
        else:
            name, _, value = m.group("short").partition(":")
            value = value or value_text
        if not name:
            raise ValueError(f"annotation {m.group(0)!r} names no entity")
        entities.append(
            {"entity": name, "start": cursor, "end": cursor + len(value_text),
             "value": value, "text": value_text}
        )
        plain.append(value_text)
        cursor += len(value_text)
        pos = m.end()
    plain.append(text[pos:])
    return "".join(plain), entities


def _language_of(path: Path, metadata: Any) -> str | None:
    if isinstance(metadata, dict) and metadata.get("language") in SUPPORTED_LANGUAGES:
        return str(metadata["language"])
    for part in reversed(path.parent.parts):
        if part in SUPPORTED_LANGUAGES:
            return part
    return None


def _example_lines(path: Path, item: dict[str, Any], kind: str) -> list[str]:
    raw = item.get("examples")
    if raw is None:
        raise TrainingDataError(path, f"the {kind} '{item[kind]}' has no examples", "examples")
    if isinstance(raw, str):
        lines = []
        for line in raw.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                raise TrainingDataError(
                    path,
                    f"in '{item[kind]}', expected each example on a line starting with '- ', "
                    f"found {stripped[:40]!r}",
                    "examples",
                )
            lines.append(stripped[2:].strip())
        return lines
    if isinstance(raw, list):
        lines = []
        for entry in raw:
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                lines.append(entry["text"].strip())
            else:
                raise TrainingDataError(
                    path, f"in '{item[kind]}', expected `- text: ...` entries, found {entry!r}",
                    "examples",
                )
        return lines
    raise TrainingDataError(
        path, f"expected a block string of '- ' lines, found {type(raw).__name__}", "examples"
    )


def _read_file(path: Path, data: TrainingData) -> None:
    content = read_yaml(path, TrainingDataError)
    if content is None:
        return
    if not isinstance(content, dict):
        raise TrainingDataError(path, "expected a mapping with 'version' and 'nlu' at the top")
    for key in content:
        if key not in KNOWN_TOP_KEYS:
            raise TrainingDataError(
                path, f"unknown top-level key. Expected one of {sorted(KNOWN_TOP_KEYS)}", str(key)
            )
    items = content.get("nlu") or []
    if not isinstance(items, list):
        raise TrainingDataError(path, "expected a list of items", "nlu")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TrainingDataError(path, f"item {index + 1} is not a mapping", "nlu")
        unknown = set(item) - ITEM_KEYS
        if unknown:
            raise TrainingDataError(
                path,
                f"unknown key in item {index + 1}. Expected keys: {sorted(ITEM_KEYS)}",
                sorted(map(str, unknown))[0],
            )
        kinds = [k for k in ITEM_KINDS if k in item]
        if len(kinds) != 1:
            raise TrainingDataError(
                path, f"item {index + 1} must have exactly one of {list(ITEM_KINDS)}", "nlu"
            )
        kind = kinds[0]
        name = str(item[kind])
        lines = _example_lines(path, item, kind)
        if kind == "intent":
            language = _language_of(path, item.get("metadata"))
            for line in lines:
                try:
                    text, entities = parse_annotated(line)
                except ValueError as exc:
                    raise TrainingDataError(path, str(exc), f"intent {name}") from exc
                data.examples.append(Example(text, name, language, entities, str(path)))
                for ent in entities:
                    if ent["value"] != ent["text"]:
                        data.synonyms[ent["text"].lower()] = ent["value"]
        elif kind == "synonym":
            for line in lines:
                data.synonyms[line.lower()] = name
        elif kind == "regex":
            for line in lines:
                try:
                    re.compile(line)
                except re.error as exc:
                    raise TrainingDataError(
                        path, f"regex {line!r} does not compile: {exc}", f"regex {name}"
                    ) from exc
                data.regexes.append((name, line))
        else:
            data.lookups.setdefault(name, []).extend(lines)


def load_training_data(paths: list[str | Path]) -> TrainingData:
    """Read Rasa NLU YAML files or folders of them.

    The language of an example comes from its `metadata: {language: xx}` or from the
    nearest folder named fi, sv or en.

    Raises:
        TrainingDataError: naming the file and key of the first problem found.
    """
    files = yaml_files(paths)
    if not files:
        raise TrainingDataError(
            ", ".join(map(str, paths)), "no .yml files found. Point --data at data/nlu."
        )
    data = TrainingData(files=files)
    digest = hashlib.sha256()
    for path in files:
        _read_file(path, data)
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    data.fingerprint = digest.hexdigest()
    return data


def example_key(text: str) -> str:
    """An example as compared for duplicates: case, punctuation and diacritics ignored."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]|_", " ", plain).split())
