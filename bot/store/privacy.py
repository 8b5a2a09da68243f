"""Retention and erasure: `bpbot purge` and `bpbot erase` over every store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select

# The log masking lives in bot.logs; importable from here too, as before.
from bot.logs import MaskingFilter, install_log_masking  # noqa: F401
from bot.store import review
from bot.store.db import Database
from bot.store.models import (
    Conversation,
    ConversationEvent,
    Enquiry,
    OutboxMessage,
    RoutingCorrection,
)


@dataclass
class Removed:
    """How many rows went, per kind."""

    conversations: int = 0
    events: int = 0
    enquiries: int = 0
    notifications: int = 0
    corrections: int = 0
    review_labels: int = 0

    def total(self) -> int:
        """All rows removed."""
        return (self.conversations + self.events + self.enquiries + self.notifications
                + self.corrections + self.review_labels)


def _remove(db: Database, enquiry_ids: list[int], senders: list[str]) -> Removed:
    removed = Removed()
    with db.session() as session:
        labelled_by = set(senders)  # a label from an enquiry's text: its conversation's
        if enquiry_ids:
            labelled_by |= {s for s in session.scalars(select(Enquiry.sender_id).where(
                Enquiry.id.in_(enquiry_ids))) if s}
            removed.notifications = session.execute(delete(OutboxMessage).where(
                OutboxMessage.enquiry_id.in_(enquiry_ids))).rowcount  # type: ignore[attr-defined]
            removed.corrections = session.execute(delete(RoutingCorrection).where(
                RoutingCorrection.enquiry_id.in_(enquiry_ids))).rowcount  # type: ignore[attr-defined]
            removed.enquiries = session.execute(delete(Enquiry).where(
                Enquiry.id.in_(enquiry_ids))).rowcount  # type: ignore[attr-defined]
        if senders:
            removed.events = session.execute(delete(ConversationEvent).where(
                ConversationEvent.sender_id.in_(senders))).rowcount  # type: ignore[attr-defined]
            removed.conversations = session.execute(delete(Conversation).where(
                Conversation.sender_id.in_(senders))).rowcount  # type: ignore[attr-defined]
        removed.review_labels = review.erase_labels(session, labelled_by)
    return removed


def purge(db: Database, retention_days: int, now: datetime | None = None) -> Removed:
    """Delete conversations silent for, and enquiries older than, `retention_days`.

    With them go their review labels; so do routing corrections and review labels made
    before the cutoff.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    with db.session() as session:
        enquiry_ids = list(session.scalars(select(Enquiry.id).where(Enquiry.created_at < cutoff)))
        senders = list(session.scalars(select(Conversation.sender_id).where(
            Conversation.updated_at < cutoff)))
        old_corrections = session.execute(delete(RoutingCorrection).where(
            RoutingCorrection.created_at < cutoff)).rowcount  # type: ignore[attr-defined]
        old_labels = review.purge_labels(session, cutoff)
    removed = _remove(db, enquiry_ids, senders)
    removed.corrections += old_corrections
    removed.review_labels += old_labels
    return removed


def erase(db: Database, *, email: str | None = None, reference: str | None = None,
          sender_id: str | None = None) -> Removed:
    """Remove one person's enquiries and conversations everywhere (review labels included).

    Raises:
        ValueError: when no criterion is given.
    """
    if not (email or reference or sender_id):
        raise ValueError("Give an e-mail address, a reference or a sender id to erase.")
    conditions = []
    if email:
        conditions.append(Enquiry.customer_email == email.strip().lower())
        conditions.append(Enquiry.customer_email == email.strip())
    if reference:
        conditions.append(Enquiry.reference == reference.strip().upper())
    if sender_id:
        conditions.append(Enquiry.sender_id == sender_id)
    with db.session() as session:
        rows = session.execute(select(Enquiry.id, Enquiry.sender_id).where(or_(*conditions)))
        found = list(rows)
    senders = {s for _, s in found if s}
    if sender_id:
        senders.add(sender_id)
    if senders:  # one submission makes an enquiry per unit: they share the customer
        with db.session() as session:
            found += list(session.execute(select(Enquiry.id, Enquiry.sender_id).where(
                Enquiry.sender_id.in_(senders))))
    return _remove(db, sorted({i for i, _ in found}), sorted(senders))
