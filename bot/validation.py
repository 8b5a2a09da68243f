"""`bpbot validate`: consistency of NLU data, domain and routing table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.constants import MIN_EXAMPLES_CONVERSATIONAL, MIN_EXAMPLES_ROUTABLE
from bot.errors import ConfigFileError
from bot.nlu.training_data import TrainingData, load_training_data
from bot.routing import RoutingTable, load_routing
from bot.yaml_io import read_yaml


@dataclass
class ValidationReport:
    """Problems that block training (errors) and ones worth a look (warnings)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training."""
        return not self.errors


def check_data(data: TrainingData, table: RoutingTable, report: ValidationReport) -> None:
    """Examples per intent and language, duplicates, and routes for every intent."""
    seen: dict[str, str] = {}
    for ex in data.examples:
        key = " ".join(ex.text.lower().split())
        other = seen.get(key)
        if other is not None and other != ex.intent:
            report.errors.append(
                f"The example {ex.text!r} appears under two intents: '{other}' and "
                f"'{ex.intent}'. Keep it under one.")
        seen.setdefault(key, ex.intent)
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
    for intent in sorted(set(table.routes) - set(counts)):
        report.warnings.append(f"routing/routes.yml routes '{intent}', which has no examples.")


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


def validate_project(data_paths: list[str | Path], routing_dir: str | Path,
                     domain_path: str | Path) -> ValidationReport:
    """Run every check; file errors are reported, not raised."""
    report = ValidationReport()
    try:
        data = load_training_data(list(data_paths))
        table = load_routing(routing_dir)
    except ConfigFileError as exc:
        report.errors.append(exc.message if not exc.path else str(exc))
        return report
    check_data(data, table, report)
    try:
        check_domain(Path(domain_path), data, report)
    except ConfigFileError as exc:
        report.errors.append(str(exc))
    return report
