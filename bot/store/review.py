"""The review inbox: messages the assistant was unsure of, labelled by maintainers.

Review items come from the stored conversations (what the customers wrote, personal data
masked) and from staff re-routes: messages that fell to the fallback or to a clarifying
question, routes below REVIEW_CONFIDENCE, and "something else" picks. The same text
(case, punctuation and accents ignored) is one item with a count. A label is kept once
per text; `bpbot data pull` writes the labels not yet pulled into data/nlu/<language>/
as Rasa YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.nlu.training_data import example_key
from bot.store.db import Database
from bot.store.models import ConversationEvent, ReviewLabel, RoutingCorrection
from bot.store.staff import strip_personal_data

REVIEW_CONFIDENCE = 0.7
NOT_AN_ENQUIRY = "out_of_scope"  # the intent "not an enquiry" labels go to
SKIP = "skip"
PULLED_FILE = "review.yml"
# The newest user messages looked at for the inbox.
SCAN_LIMIT = 5000


@dataclass
class ReviewItem:
    """One text to label (with how often it came), and the model's guess."""

    key: str
    text: str
    language: str
    reason: str  # fallback, clarify, low_confidence, something_else, reroute
    guess: str | None
    confidence: float | None
    count: int = 1


def unsure_reason(parse: dict[str, Any]) -> str | None:
    """Why a parse is worth a maintainer's look (fallback, clarify, ...), or None."""
    intent = (parse.get("intent") or {}).get("name")
    routing = parse.get("routing") or {}
    if intent == "nlu_fallback":
        return "fallback"
    if routing.get("needs_clarification"):
        return "clarify"
    if intent == "something_else":
        return "something_else"
    if routing.get("unit") and float(routing.get("confidence") or 1.0) < REVIEW_CONFIDENCE:
        return "low_confidence"
    return None


def review_items(db: Database, limit: int = 200) -> list[ReviewItem]:
    """What maintainers should label, most frequent first (labelled texts left out)."""
    with db.session() as session:
        labelled = set(session.scalars(select(ReviewLabel.key)))
        events = session.scalars(select(ConversationEvent.data)
                                 .where(ConversationEvent.type == "user")
                                 .order_by(ConversationEvent.id.desc()).limit(SCAN_LIMIT))
        corrections = list(session.scalars(select(RoutingCorrection)
                                           .order_by(RoutingCorrection.id.desc())))
        found: dict[str, ReviewItem] = {}
        for data in events:
            text = str(data.get("text") or "")
            parse = data.get("parse_data") or {}
            reason = unsure_reason(parse) if not text.startswith("/") else None
            if reason is None:
                continue
            routing = parse.get("routing") or {}
            guess = routing.get("intent") or (parse.get("intent") or {}).get("name")
            _add(found, labelled, text, (parse.get("language") or {}).get("name") or "fi",
                 reason, guess, routing.get("confidence"))
        for row in corrections:
            _add(found, labelled, row.text, row.language, "reroute", row.predicted_intent,
                 None)
    return sorted(found.values(), key=lambda i: (-i.count, i.text))[:limit]


def _add(found: dict[str, ReviewItem], labelled: set[str], text: str, language: str,
         reason: str, guess: str | None, confidence: Any) -> None:
    masked = " ".join(strip_personal_data(text).split())
    key = example_key(masked)[:500]
    if not key or key in labelled:
        return
    if key in found:
        found[key].count += 1
        return
    found[key] = ReviewItem(key, masked, language, reason, guess,
                            float(confidence) if confidence is not None else None)


def label(db: Database, text: str, language: str, intent: str, staff: str | None) -> None:
    """Label a text (masked again here); a second label of the same text replaces it."""
    masked = " ".join(strip_personal_data(text).split())
    key = example_key(masked)[:500]
    with db.session() as session:
        row = session.scalars(select(ReviewLabel).where(ReviewLabel.key == key)).first()
        if row is None:
            row = ReviewLabel(key=key, text=masked, language=language, label=intent,
                              staff=staff, labelled_at=datetime.now(UTC))
            session.add(row)
        elif row.pulled_at is None:
            row.label, row.staff, row.labelled_at = intent, staff, datetime.now(UTC)


def pull(db: Database, data_dir: str | Path) -> dict[Path, int]:
    """Write every label not yet pulled into <data_dir>/<language>/review.yml.

    Each label once: pulled labels are remembered. Returns the examples added per file.
    """
    with db.session() as session:
        rows = list(session.scalars(select(ReviewLabel).where(
            ReviewLabel.pulled_at.is_(None), ReviewLabel.label != SKIP)
            .order_by(ReviewLabel.id)))
        added: dict[Path, int] = {}
        for language in sorted({r.language for r in rows}):
            target = Path(data_dir) / language / PULLED_FILE
            examples = _read_examples(target)
            for row in (r for r in rows if r.language == language):
                texts = examples.setdefault(row.label, [])
                if row.text not in texts:
                    texts.append(row.text)
                    added[target] = added.get(target, 0) + 1
            _write_examples(target, language, examples)
        now = datetime.now(UTC)
        for row in rows:
            row.pulled_at = now
    return added


def _read_examples(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = {}
    for block in raw.get("nlu") or []:
        lines = str(block.get("examples") or "").splitlines()
        out[str(block["intent"])] = [line.strip()[2:] for line in lines
                                     if line.strip().startswith("- ")]
    return out


def _write_examples(path: Path, language: str, examples: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ['version: "3.1"',
             f"# Labelled in the review inbox ({language}); `bpbot data pull` adds to this file.",
             "nlu:"]
    for intent in sorted(examples):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in examples[intent]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
