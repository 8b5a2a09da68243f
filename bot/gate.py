"""The regression gate: a candidate model against the live one, side by side, per language.

Both models route the held-out enquiries (every JSON Lines file with unit labels under the
configured folders) and play the story tests. The candidate is refused when any language
loses more than `max_right_drop` points of right-unit rate, gains more than
`max_wrong_gain` points of wrong-unit rate, or when a story fails (config.yml, `gate:`).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.config import GateConfig
from bot.routing_report import LabelledEnquiry, evaluate_routing, load_labelled_enquiries
from bot.service import Router
from bot.settings import Settings

LANGUAGES = ("fi", "sv", "en")


@dataclass
class LanguageScore:
    """One model's figures in one language (rates in percent)."""

    right: float = 0.0  # the right unit(s), or offered with one click
    ask: float = 0.0
    wrong: float = 0.0
    enquiries: int = 0
    stories_passed: int = 0
    stories: int = 0


@dataclass
class Evaluation:
    """One model's figures per language, and what failed."""

    model_id: str
    languages: dict[str, LanguageScore] = field(default_factory=dict)
    failed_stories: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    """The decision, its reasons and the table that shows them."""

    passed: bool
    reasons: list[str]
    table: str
    candidate: Evaluation
    live: Evaluation | None

    def as_dict(self) -> dict[str, Any]:
        """For the promotion record."""
        return {"passed": self.passed, "reasons": self.reasons, "table": self.table,
                "candidate": asdict(self.candidate),
                "live": asdict(self.live) if self.live else None}


def labelled_files(places: list[str], root: Path = Path(".")) -> list[Path]:
    """The JSON Lines files with unit labels in `places` (folders or files)."""
    found: list[Path] = []
    for place in places:
        path = root / place
        candidates = sorted(path.glob("*.jsonl")) if path.is_dir() else (
            [path] if path.is_file() else [])
        for file in candidates:
            first = next((line for line in file.read_text(encoding="utf-8").splitlines()
                          if line.strip()), "")
            try:
                keys = json.loads(first)
            except json.JSONDecodeError:
                keys = {}
            if isinstance(keys, dict) and ("unit" in keys or "units" in keys):
                found.append(file)
    return found


def evaluate(model: Path, settings: Settings, gate: GateConfig, root: Path = Path("."),
             router: Router | None = None) -> Evaluation:
    """Route the held-out enquiries and play the stories with the model in `model`."""
    router = router or Router.load(model, settings.routing_path)
    rows: list[LabelledEnquiry] = []
    for file in labelled_files(gate.heldout, root):
        rows += load_labelled_enquiries(file, set(router.table.units))
    result = Evaluation(model.name)
    report = evaluate_routing(router, rows) if rows else {"languages": {}}
    for lang in LANGUAGES:
        m = report["languages"].get(lang)
        score = result.languages.setdefault(lang, LanguageScore())
        if m:
            score.right = round(100 * (m["right"] + m["offered"]), 2)
            score.ask = round(100 * m["ask"], 2)
            score.wrong = round(100 * m["wrong"], 2)
            score.enquiries = int(m["support"])
    stories = [root / p for p in gate.stories if (root / p).exists()]
    if stories:
        _play_stories(result, router, settings, stories)
    return result


def _play_stories(result: Evaluation, router: Router, settings: Settings,
                  paths: list[Path]) -> None:
    from bot.agent import Agent
    from bot.dialogue.story_test import load_stories, run_stories

    loaded = load_stories(list(paths))
    with tempfile.TemporaryDirectory(prefix="bpbot-gate-") as tmp:
        story_settings = settings.model_copy(update={
            "database_url": f"sqlite:///{tmp}/stories.sqlite3", "outbox_interval_s": 0})
        agent = Agent.load(story_settings, router=router)
        try:
            outcomes = asyncio.run(run_stories(agent, loaded))
        finally:
            agent.store.db.dispose()
    for outcome in outcomes:
        score = result.languages.setdefault(outcome.language or "fi", LanguageScore())
        score.stories += 1
        score.stories_passed += outcome.passed
        if not outcome.passed:
            result.failed_stories.append(outcome.story)


def run_gate(candidate: Path, live: Path | None, settings: Settings, gate: GateConfig,
             say: Callable[[str], None] = lambda _: None) -> GateResult:
    """Evaluate the candidate (and the live model, when there is one) and compare them."""
    say(f"Evaluating candidate {candidate.name} ...")
    new = evaluate(candidate, settings, gate)
    current = None
    if live is not None:
        say(f"Evaluating live model {live.name} ...")
        current = evaluate(live, settings, gate)
    return compare(new, current, gate)


def compare(candidate: Evaluation, live: Evaluation | None, gate: GateConfig) -> GateResult:
    """Decide against the thresholds; the table shows both models per language."""
    reasons: list[str] = []
    for lang in LANGUAGES:
        new = candidate.languages.get(lang, LanguageScore())
        if live is not None:
            old = live.languages.get(lang, LanguageScore())
            if old.right - new.right > gate.max_right_drop:
                reasons.append(f"{lang}: right-unit rate {new.right:.1f} % is "
                               f"{old.right - new.right:.1f} points below the live model's "
                               f"{old.right:.1f} % (at most {gate.max_right_drop} allowed)")
            if new.wrong - old.wrong > gate.max_wrong_gain:
                reasons.append(f"{lang}: wrong-unit rate {new.wrong:.1f} % is "
                               f"{new.wrong - old.wrong:.1f} points above the live model's "
                               f"{old.wrong:.1f} % (at most {gate.max_wrong_gain} allowed)")
        if gate.stories_must_pass and new.stories_passed < new.stories:
            reasons.append(f"{lang}: {new.stories - new.stories_passed} of {new.stories} "
                           "stories fail")
    if candidate.failed_stories and gate.stories_must_pass:
        reasons.append("failed stories: " + ", ".join(candidate.failed_stories[:10]))
    return GateResult(not reasons, reasons, _table(candidate, live), candidate, live)


def _table(candidate: Evaluation, live: Evaluation | None) -> str:
    header = (f"{'language':<9} {'model':<10} {'right unit':>10} {'question':>9} "
              f"{'wrong unit':>10} {'stories':>8}  {'enquiries':>9}")
    lines = [header, "-" * len(header)]
    for lang in LANGUAGES:
        for label, evaluation in (("live", live), ("candidate", candidate)):
            if evaluation is None:
                continue
            s = evaluation.languages.get(lang, LanguageScore())
            lines.append(f"{lang:<9} {label:<10} {s.right:>9.1f}% {s.ask:>8.1f}% "
                         f"{s.wrong:>9.1f}% {s.stories_passed:>3}/{s.stories:<4}  "
                         f"{s.enquiries:>9}")
    return "\n".join(lines)
