"""Enquiries: create one with its notifications in one transaction; look them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Enquiry, OutboxMessage

REFERENCE_PREFIX = "BP"


def reference_for(enquiry_id: int, created: datetime) -> str:
    """The customer-facing reference, e.g. BP-2026-000123."""
    return f"{REFERENCE_PREFIX}-{created.year}-{enquiry_id:06d}"


@dataclass
class NewEnquiry:
    """What the conversation collected, ready to store."""

    sender_id: str
    language: str
    reply_language: str
    intent: str | None
    confidence: float | None
    unit: str
    unit_contact: str
    customer_name: str
    company: str | None
    business_id: str | None
    customer_email: str | None
    customer_phone: str | None
    notice_version: str
    customer_text: str
    transcript: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Notification:
    """One message to deliver once the enquiry is stored."""

    kind: str  # "email" or "webhook"
    recipient: str
    subject: str | None
    body: str


def create_enquiry(db: Database, new: NewEnquiry,
                   notifications: list[Notification] | None = None,
                   render: Any = None) -> tuple[int, str]:
    """Store the enquiry and queue its notifications atomically; return (id, reference).

    `render(enquiry) -> list[Notification]`, when given, builds the notifications once the
    reference is known (so that it appears in them).
    """
    now = datetime.now(UTC)
    with db.session() as session:
        enquiry = Enquiry(
            sender_id=new.sender_id, created_at=now, language=new.language,
            reply_language=new.reply_language, intent=new.intent, confidence=new.confidence,
            unit=new.unit, unit_contact=new.unit_contact, customer_name=new.customer_name,
            company=new.company, business_id=new.business_id,
            customer_email=new.customer_email, customer_phone=new.customer_phone,
            consent_at=now, notice_version=new.notice_version,
            customer_text=new.customer_text, transcript=new.transcript, status="new",
            history=[{"at": now.isoformat(), "event": "created", "unit": new.unit}])
        session.add(enquiry)
        session.flush()
        enquiry.reference = reference_for(enquiry.id, now)
        queued = list(notifications or []) + (list(render(enquiry)) if render else [])
        for n in queued:
            session.add(OutboxMessage(
                idempotency_key=f"{enquiry.reference}:{n.kind}:{n.recipient}",
                enquiry_id=enquiry.id, kind=n.kind, recipient=n.recipient, subject=n.subject,
                body=n.body, status="pending", attempts=0, next_attempt_at=now,
                created_at=now))
        return enquiry.id, enquiry.reference


def get_enquiry(db: Database, reference: str) -> Enquiry | None:
    """The enquiry with this reference, or None."""
    with db.session() as session:
        return session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()
