"""The review inbox: messages the assistant was unsure of, labelled by maintainers.

Review items come from the stored conversations (what the customers wrote, personal data
masked, the name the customer gave in that conversation included) and from staff
re-routes: messages that fell to the fallback or to a clarifying question, routes below
REVIEW_CONFIDENCE, and "something else" picks. The same text (case, punctuation and
accents ignored) is one item with a count. A label is kept once per text, with the
conversations it came from: erasing or purging one of them deletes the label. `bpbot data
pull` writes the labels not yet pulled into data/nlu/<language>/ as Rasa YAML.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.errors import TrainingDataError
from bot.nlu.training_data import example_key
from bot.nlu.validators import mask_personal_data
from bot.store.db import Database
from bot.store.models import (
    ConversationEvent,
    Enquiry,
    ReviewLabel,
    ReviewLabelSender,
    RoutingCorrection,
)
from bot.yaml_io import Block, comment_line, dump_yaml, nlu_yaml, read_yaml

REVIEW_CONFIDENCE = 0.7
NOT_AN_ENQUIRY = "out_of_scope"  # the intent "not an enquiry" labels go to
SKIP = "skip"
PULLED_FILE = "review.yml"
# The newest user messages looked at for the inbox.
SCAN_LIMIT = 5000
# The slot the enquiry form keeps the customer's name in (domain.yml).
NAME_SLOT = "name"
_CHUNK = 500


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
    senders: set[str] = field(default_factory=set)
    """The conversations it came from (a label is erased with any of them)."""


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


def customer_names(session: Session, senders: Iterable[str]) -> dict[str, list[str]]:
    """The names each conversation's customer gave (the name slot, their enquiries)."""
    names: dict[str, list[str]] = {}
    wanted = sorted(set(senders))
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i:i + _CHUNK]
        for sender, data in session.execute(
                select(ConversationEvent.sender_id, ConversationEvent.data).where(
                    ConversationEvent.type == "slot", ConversationEvent.sender_id.in_(chunk))):
            if data.get("name") == NAME_SLOT and isinstance(data.get("value"), str):
                names.setdefault(sender, []).append(data["value"])
        for sender, name in session.execute(select(Enquiry.sender_id, Enquiry.customer_name)
                                            .where(Enquiry.sender_id.in_(chunk))):
            names.setdefault(str(sender), []).append(name)
    return names


def masked(text: str, names: Iterable[str] = ()) -> str:
    """A customer's text as the review inbox and the exports show it: personal data masked."""
    return " ".join(mask_personal_data(text, names).split())


def _scan(session: Session, labelled: set[str]) -> dict[str, ReviewItem]:
    """Every unsure message and re-routed enquiry not labelled yet, by key."""
    unsure: list[tuple[str, str, dict[str, Any], str]] = []
    for sender, data in session.execute(
            select(ConversationEvent.sender_id, ConversationEvent.data)
            .where(ConversationEvent.type == "user")
            .order_by(ConversationEvent.id.desc()).limit(SCAN_LIMIT)):
        text = str(data.get("text") or "")
        parse = data.get("parse_data") or {}
        reason = unsure_reason(parse) if not text.startswith("/") else None
        if reason is not None:
            unsure.append((sender, text, parse, reason))
    corrections = list(session.execute(
        select(RoutingCorrection, Enquiry.sender_id, Enquiry.customer_name)
        .outerjoin(Enquiry, Enquiry.id == RoutingCorrection.enquiry_id)
        .order_by(RoutingCorrection.id.desc())))
    names = customer_names(session, [u[0] for u in unsure]
                           + [str(c[1]) for c in corrections if c[1]])
    found: dict[str, ReviewItem] = {}
    for sender, text, parse, reason in unsure:
        routing = parse.get("routing") or {}
        guess = routing.get("intent") or (parse.get("intent") or {}).get("name")
        _add(found, labelled, masked(text, names.get(sender, [])), sender,
             (parse.get("language") or {}).get("name") or "fi", reason, guess,
             routing.get("confidence"))
    for row, sender, customer in corrections:
        known = [customer or "", *names.get(str(sender), [])]
        _add(found, labelled, masked(row.text, known), sender, row.language, "reroute",
             row.predicted_intent, None)
    return found


def review_items(db: Database, limit: int = 200) -> list[ReviewItem]:
    """What maintainers should label, most frequent first (labelled texts left out).

    Texts are masked: identity codes, e-mail addresses, phone numbers, business IDs and
    the name the customer gave in that conversation.
    """
    with db.session() as session:
        labelled = set(session.scalars(select(ReviewLabel.key)))
        found = _scan(session, labelled)
    return sorted(found.values(), key=lambda i: (-i.count, i.text))[:limit]


def _add(found: dict[str, ReviewItem], labelled: set[str], text: str, sender: str | None,
         language: str, reason: str, guess: str | None, confidence: Any) -> None:
    key = example_key(text)[:500]
    if not key or key in labelled:
        return
    item = found.get(key)
    if item is None:
        item = found[key] = ReviewItem(key, text, language, reason, guess,
                                       float(confidence) if confidence is not None else None,
                                       count=0)
    item.count += 1
    if sender:
        item.senders.add(sender)


def label(db: Database, text: str, language: str, intent: str, staff: str | None) -> None:
    """Label a text (masked again here); a second label of the same text replaces it.

    The label remembers the conversations the text came from: erasing any of them (or
    purging it) erases the label.
    """
    with db.session() as session:
        labelled = set(session.scalars(select(ReviewLabel.key)))
        key = example_key(masked(text))[:500]
        item = _scan(session, labelled - {key}).get(key)
        senders = item.senders if item else set()
        names = [n for ns in customer_names(session, senders).values() for n in ns]
        text = masked(text, names)
        row = session.scalars(select(ReviewLabel).where(ReviewLabel.key == key)).first()
        if row is None:
            row = ReviewLabel(key=key, text=text, language=language, label=intent,
                              staff=staff, labelled_at=datetime.now(UTC))
            session.add(row)
            session.flush()
        elif row.pulled_at is None:
            row.label, row.staff, row.labelled_at = intent, staff, datetime.now(UTC)
        linked = set(session.scalars(select(ReviewLabelSender.sender_id).where(
            ReviewLabelSender.label_id == row.id)))
        session.add_all(ReviewLabelSender(label_id=row.id, sender_id=sender)
                        for sender in sorted(senders - linked))


def erase_labels(session: Session, senders: Iterable[str]) -> int:
    """Delete the labels made from these conversations' messages; how many."""
    wanted = sorted(set(senders))
    ids: set[int] = set()
    for i in range(0, len(wanted), _CHUNK):
        ids |= set(session.scalars(select(ReviewLabelSender.label_id).where(
            ReviewLabelSender.sender_id.in_(wanted[i:i + _CHUNK]))))
    return _delete_labels(session, ids)


def purge_labels(session: Session, cutoff: datetime) -> int:
    """Delete the labels made before `cutoff` (the retention period); how many."""
    return _delete_labels(session, set(session.scalars(select(ReviewLabel.id).where(
        ReviewLabel.labelled_at < cutoff))))


def _delete_labels(session: Session, ids: set[int]) -> int:
    removed = 0
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i:i + _CHUNK]
        session.execute(delete(ReviewLabelSender).where(ReviewLabelSender.label_id.in_(chunk)))
        removed += int(session.execute(delete(ReviewLabel).where(
            ReviewLabel.id.in_(chunk))).rowcount)  # type: ignore[attr-defined]
    return removed


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
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(nlu_yaml(examples, f"Labelled in the review inbox ({language}); "
                                                 "`bpbot data pull` adds to this file."),
                              encoding="utf-8")
        now = datetime.now(UTC)
        for row in rows:
            row.pulled_at = now
    return added


def _read_examples(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    raw = read_yaml(path, TrainingDataError) or {}
    out: dict[str, list[str]] = {}
    for block in raw.get("nlu") or [] if isinstance(raw, dict) else []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        lines = str(block.get("examples") or "").splitlines()
        out[str(block["intent"])] = [line.strip()[2:] for line in lines
                                     if line.strip().startswith("- ")]
    return out


def corrections_as_nlu(db: Database, intents_of_unit: dict[str, list[str]]) -> str:
    """Routing corrections as Rasa NLU YAML suggestions, personal data masked.

    Each text goes under the first intent that routes to the unit staff chose; a comment
    names the other intents of that unit and the reason, for the maintainer to decide.
    Texts and reasons are masked as in the review inbox, the customer's name included.
    """
    with db.session() as session:
        rows = list(session.execute(
            select(RoutingCorrection, Enquiry.sender_id, Enquiry.customer_name)
            .outerjoin(Enquiry, Enquiry.id == RoutingCorrection.enquiry_id)
            .order_by(RoutingCorrection.id)))
        names = customer_names(session, [str(r[1]) for r in rows if r[1]])
    parts = ['version: "3.1"\n', comment_line(
        "Suggestions from staff re-routing. Check each intent before adding the examples "
        "to data/nlu/<language>/."), "nlu:\n"]
    for row, sender, customer in rows:
        known = [customer or "", *names.get(str(sender), [])]
        intents = intents_of_unit.get(row.to_unit) or ["<choose an intent>"]
        parts += [comment_line(f"{row.language}: {row.from_unit} -> {row.to_unit}; reason: "
                               f"{masked(row.reason, known)}"),
                  comment_line(f"other intents of {row.to_unit}: {', '.join(intents[1:]) or '-'}"),
                  dump_yaml([{"intent": intents[0], "metadata": {"language": row.language},
                              "examples": Block(f"- {masked(row.text, known)}\n")}])]
    return "".join(parts)
