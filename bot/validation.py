"""`bpbot validate`: consistency of NLU data, domain and routing table."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.constants import (
    MIN_EXAMPLES_CONVERSATIONAL,
    MIN_EXAMPLES_ROUTABLE,
    SUPPORTED_LANGUAGES,
)
from bot.dialogue.domain import LANGUAGE_SLOT, Domain, load_domain
from bot.dialogue.processor import BUILT_IN_ACTIONS
from bot.dialogue.rules import Rule, load_rules
from bot.errors import ConfigFileError
from bot.nlu.training_data import Example, TrainingData, example_key, load_training_data
from bot.routing import RoutingTable, load_routing
from bot.scaffold import TODO
from bot.yaml_io import YamlPath, read_yaml, yaml_files, yaml_lines

# Where validate_project looks for rules and test stories, relative to the project folder
# (the folder of domain.yml), when they are not given.
DEFAULT_RULES_PATH = "data/rules.yml"
DEFAULT_STORIES_PATH = "tests/stories"
ROUTES_FILE = "routes.yml"
# Intents the engine produces itself (no training examples, not declared in domain.yml).
BUILT_IN_INTENTS = frozenset({"nlu_fallback"})
# Every response needs one variation per language, chosen by the `language` slot.
RESPONSE_LANGUAGES: tuple[str, ...] = SUPPORTED_LANGUAGES



@dataclass
class ValidationReport:
    """Problems that block training (errors) and ones worth a look (warnings)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training."""
        return not self.errors


def check_data(data: TrainingData, table: RoutingTable, report: ValidationReport,
               routes_file: Path | None = None) -> None:
    """Examples per intent and language, (near-)duplicates, and routes for every intent."""
    seen: dict[str, Example] = {}
    for ex in data.examples:
        key = example_key(ex.text)
        other = seen.get(key)
        if other is not None and other.intent != ex.intent:
            same = "appears" if other.text.strip() == ex.text.strip() else (
                f"and {other.text!r} ({_at(other.source, _line_of(other))}) differ only in "
                "case, punctuation or accents; the text appears")
            report.errors.append(
                f"{_at(ex.source, _line_of(ex))}: the example {ex.text!r} {same} under two "
                f"intents: '{other.intent}' and '{ex.intent}'. Keep it under the one it "
                "means, or reword one of them.")
        seen.setdefault(key, ex)
        if ex.text.strip().startswith(TODO):
            report.errors.append(
                f"{_at(ex.source, _line_of(ex))}: intent '{ex.intent}' still has its "
                f"placeholder example ({ex.text.strip()!r}). Replace it with real customer "
                "messages in this language.")
        if ex.language is None:
            report.errors.append(
                f"{ex.source}: the example {ex.text!r} of '{ex.intent}' has no language. Put "
                "the file under data/nlu/fi, sv or en, or add metadata: {language: xx}.")
    counts = data.counts()
    for intent, by_lang in sorted(counts.items()):
        routable = intent not in table.conversational
        if routable and intent not in table.routes:
            report.errors.append(
                f"Intent '{intent}' has no route. Add it to routing/routes.yml, or to "
                "'conversational' there if it never routes an enquiry.")
        minimum = MIN_EXAMPLES_ROUTABLE if routable else {
            "fi": MIN_EXAMPLES_CONVERSATIONAL, "sv": MIN_EXAMPLES_CONVERSATIONAL}
        for lang, needed in minimum.items():
            have = by_lang.get(lang, 0)
            if have == 0 and lang in ("fi", "sv"):
                report.errors.append(
                    f"Intent '{intent}' has no {lang} examples. Add at least {needed} to "
                    f"data/nlu/{lang}/.")
            elif have < needed:
                target = report.errors if lang in ("fi", "sv") else report.warnings
                target.append(
                    f"Intent '{intent}' has {have} {lang} examples; at least {needed} are "
                    "needed.")
    lines = _route_lines(routes_file) if routes_file else {}
    for intent in sorted(set(table.routes) - set(counts)):
        report.errors.append(
            f"{_at(routes_file or ROUTES_FILE, lines.get(intent))}: routes.yml routes intent "
            f"'{intent}', which has no training examples.{_did_you_mean(intent, counts)} "
            f"Fix the name, or add examples under '- intent: {intent}' in "
            "data/nlu/fi, sv and en.")


def check_domain(path: Path, data: TrainingData, report: ValidationReport) -> None:
    """Intents and entities declared in domain.yml against the data."""
    if not path.is_file():
        report.warnings.append(f"{path} not found; the domain was not checked.")
        return
    domain = read_yaml(path) or {}
    declared = {str(i if isinstance(i, str) else next(iter(i))) for i in domain.get("intents", [])}
    used = set(data.intents)
    for intent in sorted(used - declared):
        report.errors.append(f"{path}: intent '{intent}' has examples but is not in 'intents'.")
    for intent in sorted(declared - used):
        report.warnings.append(f"{path}: intent '{intent}' is declared but has no examples.")
    entities = {str(e if isinstance(e, str) else next(iter(e))) for e in domain.get("entities", [])}
    annotated = {ent["entity"] for ex in data.examples for ent in ex.entities}
    for name in sorted(annotated - entities):
        report.errors.append(f"{path}: entity '{name}' is annotated in the data but not "
                             "declared under 'entities'.")


def _line_of(example: Example) -> int | None:
    """The line of an example in its file (found by its text; None when not found)."""
    try:
        lines = _file_lines(example.source)
    except OSError:
        return None
    needle = example.text.strip()
    for number, line in enumerate(lines, start=1):
        if line.strip().lstrip("-").strip() == needle:
            return number
    return None


@functools.lru_cache(maxsize=64)
def _file_lines(path: str) -> tuple[str, ...]:
    return tuple(Path(path).read_text(encoding="utf-8").splitlines())


def _at(path: str | Path, line: int | None) -> str:
    return f"{path}, line {line}" if line else str(path)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _languages_found(covered: list[str], unconditioned: int) -> str:
    parts = [f"variations for {', '.join(covered)}"] if covered else []
    if unconditioned:
        parts.append(f"{unconditioned} variation(s) without a language condition")
    return " and ".join(parts) or "no variations"


def check_responses(domain: Domain, report: ValidationReport) -> None:
    """Every response has one variation per language (fi, sv, en), chosen by the language slot."""
    lines = yaml_lines(domain.path)
    for name, variations in domain.responses.items():
        covered: list[str] = []
        unconditioned = 0
        for variation in variations:
            langs = [str(c.value) for c in variation.condition if c.name == LANGUAGE_SLOT]
            covered += [lang for lang in langs if lang not in covered]
            unconditioned += not langs
        missing = [lang for lang in RESPONSE_LANGUAGES if lang not in covered]
        if not missing:
            continue
        first = missing[0]
        report.errors.append(
            f"{_at(domain.path, lines.get(('responses', name)))}: response '{name}' has no "
            f"{', '.join(missing)} variation. Expected one variation per language "
            f"({', '.join(RESPONSE_LANGUAGES)}); found {_languages_found(covered, unconditioned)}."
            f" Add a variation for each missing language, e.g. '- condition: [{{type: slot, "
            f"name: {LANGUAGE_SLOT}, value: {first}}}]' with 'text:' in that language.")


@dataclass(frozen=True)
class NamedStep:
    """An `intent:` or `action:` step of a rule or story, with where it was written."""

    kind: str  # "intent" or "action"
    name: str
    path: Path
    line: int | None
    owner: str  # "rule 'greet'", "story 'greet (fi)'"


def _step_names(step: Any, here: YamlPath) -> Iterator[tuple[YamlPath, str, str]]:
    if not isinstance(step, dict):
        return
    for kind in ("intent", "action"):
        if step.get(kind) is not None:
            yield (*here, kind), kind, str(step[kind])
    loop = step.get("active_loop")
    if isinstance(loop, str) and loop != "null":
        yield (*here, "active_loop"), "form", loop
    slots = step.get("slot_was_set")
    for k, item in enumerate(slots if isinstance(slots, list) else []):
        names = item if isinstance(item, dict) else {str(item): None}
        for name in names:
            yield (*here, "slot_was_set", k), "slot", str(name)
    options = step.get("or")
    for k, option in enumerate(options if isinstance(options, list) else []):
        yield from _step_names(option, (*here, "or", k))


def named_steps(path: str | Path, section: str) -> list[NamedStep]:
    """Every intent, action, slot and form named in the `rules:` or `stories:` of one file.

    Raises:
        ConfigFileError: when the file is missing or not valid YAML.
    """
    path = Path(path)
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        return []
    lines = yaml_lines(path)
    label = "rule" if section == "rules" else "story"
    found: list[NamedStep] = []
    items = raw.get(section)
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue  # the loader reports the malformed item with its line
        owner = f"{label} '{item.get(label, i)}'"
        for part in ("condition", "steps"):
            listed = item.get(part)
            for j, step in enumerate(listed if isinstance(listed, list) else []):
                for here, kind, name in _step_names(step, (section, i, part, j)):
                    found.append(NamedStep(kind, name, path, lines.get(here), owner))
    return found


def known_actions(domain: Domain) -> set[str]:
    """Custom actions, responses, forms and the engine's built-in actions."""
    return set(domain.action_names) | set(domain.responses) | set(domain.forms) | set(
        BUILT_IN_ACTIONS)


def check_step_names(steps: list[NamedStep], domain: Domain, report: ValidationReport) -> None:
    """Every intent, action, slot and form that rules and stories name is in the domain."""
    intents = set(domain.intents) | BUILT_IN_INTENTS
    actions = known_actions(domain)
    for step in steps:
        if step.kind == "intent" and step.name not in intents:
            report.errors.append(
                f"{_at(step.path, step.line)}: {step.owner} names the intent '{step.name}', "
                f"which is not under 'intents' in {domain.path}."
                f"{_did_you_mean(step.name, intents)} Fix the spelling, or declare the intent "
                f"in {domain.path} and give it training examples.")
        elif step.kind == "slot" and step.name not in domain.slots:
            report.errors.append(
                f"{_at(step.path, step.line)}: {step.owner} names the slot '{step.name}', "
                f"which is not under 'slots' in {domain.path}."
                f"{_did_you_mean(step.name, domain.slots)} Fix the spelling, or declare the "
                f"slot in {domain.path}.")
        elif step.kind == "form" and step.name not in domain.forms:
            report.errors.append(
                f"{_at(step.path, step.line)}: {step.owner} names the form '{step.name}' as "
                f"its active_loop, which is not under 'forms' in {domain.path}."
                f"{_did_you_mean(step.name, domain.forms)} Fix the spelling, or declare the "
                f"form in {domain.path}.")
        elif step.kind == "action" and step.name not in actions:
            report.errors.append(
                f"{_at(step.path, step.line)}: {step.owner} names the action '{step.name}', "
                f"which is not a custom action ('actions'), a response ('responses') or a form "
                f"('forms') in {domain.path}, nor a built-in action."
                f"{_did_you_mean(step.name, actions)} Fix the spelling, or declare it in "
                f"{domain.path}.")


def intents_starting_rules(rules: list[Rule]) -> set[str]:
    """Intents that start a rule which applies outside a form (the first step names them)."""
    return {name for rule in rules
            if rule.steps[0].kind == "intent" and rule.loop_condition is None
            for name in rule.steps[0].names}


def _route_lines(routes_file: Path) -> dict[str, int]:
    try:
        raw = read_yaml(routes_file) or {}
        lines = yaml_lines(routes_file)
    except ConfigFileError:
        return {}
    routes = raw.get("routes") if isinstance(raw, dict) else None
    return {str(r["intent"]): lines[("routes", i)] for i, r in enumerate(routes or [])
            if isinstance(r, dict) and "intent" in r and ("routes", i) in lines}


def _routing_rule_hint(intent: str, rules: list[Rule], routable: set[str]) -> str:
    for rule in rules:
        first = rule.steps[0]
        if first.kind != "intent" or rule.loop_condition or not set(first.names) & routable:
            continue
        if len(first.names) > 1:
            return (f"Add '- intent: {intent}' under 'or:' of the rule '{rule.name}' in "
                    f"{rule.source}.")
        return (f"Make the first step of the rule '{rule.name}' in {rule.source} an 'or:' "
                f"that lists '- intent: {first.names[0]}' and '- intent: {intent}'.")
    return (f"Add a rule whose steps are '- intent: {intent}' and "
            "'- action: action_route_enquiry'.")


def check_rule_coverage(rules: list[Rule], rules_label: str, data: TrainingData,
                        table: RoutingTable, routes_file: Path,
                        report: ValidationReport) -> None:
    """Routable intents start a rule (error); other intents with examples have one (warning)."""
    starting = intents_starting_rules(rules)
    route_lines = _route_lines(routes_file)
    routable = set(table.routes)
    for intent in sorted(routable - starting):
        elsewhere = [f"'{r.name}'" for r in rules if intent in r.intents]
        found = (f"it appears only in rule(s) {', '.join(elsewhere)}, not as the first step "
                 "of a rule that applies outside a form" if elsewhere else "no rule names it")
        report.errors.append(
            f"{_at(routes_file, route_lines.get(intent))}: intent '{intent}' has a route, but "
            f"no rule in {rules_label} starts with it, so the chat would answer it with "
            f"\"Sorry, I didn't understand\". Expected a rule whose first step is "
            f"'- intent: {intent}' (or an 'or:' that lists it); found: {found}. "
            f"{_routing_rule_hint(intent, rules, routable)}")
    mentioned = {name for rule in rules for name in rule.intents}
    for intent in sorted(set(data.intents) - routable - mentioned - BUILT_IN_INTENTS):
        report.warnings.append(
            f"Intent '{intent}' has training examples but no rule in {rules_label} names it: "
            "outside a form the chat would answer it with \"Sorry, I didn't understand\". "
            "Fine if it only answers a form's questions; otherwise add a rule that starts "
            f"with '- intent: {intent}'.")


def _project_paths(given: list[str | Path] | None, domain_path: Path,
                   default: str) -> list[str | Path]:
    if given is not None:
        return list(given)
    candidate = domain_path.parent / default
    return [candidate] if candidate.exists() else []


def _dialogue_steps(rules_paths: list[str | Path], story_paths: list[str | Path],
                    report: ValidationReport) -> list[NamedStep]:
    from bot.dialogue.story_test import load_stories

    steps: list[NamedStep] = []
    for paths, section in ((rules_paths, "rules"), (story_paths, "stories")):
        try:
            for path in yaml_files(paths):
                steps += named_steps(path, section)
            if section == "stories" and paths:
                load_stories(list(paths))  # its shape: each problem with file and line
        except ConfigFileError as exc:
            report.errors.append(str(exc))
    return steps


def check_dialogue(domain_path: Path, rules_paths: list[str | Path],
                   story_paths: list[str | Path], data: TrainingData, table: RoutingTable,
                   routes_file: Path, report: ValidationReport) -> None:
    """Responses per language, names in rules and stories, and rules for every intent."""
    if not domain_path.is_file():
        return
    try:
        domain = load_domain(domain_path)
    except ConfigFileError as exc:
        report.errors.append(str(exc))
        return
    check_responses(domain, report)
    check_step_names(_dialogue_steps(rules_paths, story_paths, report), domain, report)
    if not rules_paths:
        report.warnings.append(f"No rules found at {domain_path.parent / DEFAULT_RULES_PATH}; "
                               "the rules were not checked.")
        return
    try:
        rules = load_rules(rules_paths)
    except ConfigFileError as exc:
        report.errors.append(str(exc))
        return
    label = ", ".join(str(p) for p in rules_paths)
    check_rule_coverage(rules, label, data, table, routes_file, report)


def validate_project(data_paths: list[str | Path], routing_dir: str | Path,
                     domain_path: str | Path, *, rules_paths: list[str | Path] | None = None,
                     story_paths: list[str | Path] | None = None) -> ValidationReport:
    """Run every check; file errors are reported, not raised.

    Args:
        data_paths: NLU data files or folders.
        routing_dir: the folder with units.yml and routes.yml.
        domain_path: domain.yml.
        rules_paths: rules files or folders; default: data/rules.yml next to domain.yml.
        story_paths: test stories; default: tests/stories next to domain.yml, if it exists.
    """
    report = ValidationReport()
    try:
        data = load_training_data(list(data_paths))
        table = load_routing(routing_dir)
    except ConfigFileError as exc:
        report.errors.append(exc.message if not exc.path else str(exc))
        return report
    check_data(data, table, report, Path(routing_dir) / ROUTES_FILE)
    domain = Path(domain_path)
    try:
        check_domain(domain, data, report)
    except ConfigFileError as exc:
        report.errors.append(str(exc))
    check_dialogue(domain, _project_paths(rules_paths, domain, DEFAULT_RULES_PATH),
                   _project_paths(story_paths, domain, DEFAULT_STORIES_PATH), data, table,
                   Path(routing_dir) / ROUTES_FILE, report)
    return report
