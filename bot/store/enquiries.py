"""Enquiries: create one with its notifications in one transaction; look them up."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.nlu.validators import mask_personal_ids
from bot.store import limits
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
        enquiry, reference = _add_enquiry(session, new, now)
        _queue(session, enquiry, list(notifications or []) + (
            list(render(enquiry)) if render else []), now)
        return enquiry.id, reference


def _add_enquiry(session: Any, new: NewEnquiry, now: datetime) -> tuple[Enquiry, str]:
    """Add the enquiry (consent given `now`) and give it its reference (same transaction)."""
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
    enquiry.reference = reference = reference_for(enquiry.id, now)
    return enquiry, reference


def _queue(session: Any, enquiry: Enquiry, notifications: list[Notification],
           now: datetime) -> None:
    """Add the enquiry's notifications to the outbox (same transaction)."""
    for n in notifications:
        session.add(OutboxMessage(
            idempotency_key=f"{enquiry.reference}:{n.kind}:{n.recipient}",
            enquiry_id=enquiry.id, kind=n.kind, recipient=n.recipient, subject=n.subject,
            body=n.body, status="pending", attempts=0, next_attempt_at=now, created_at=now))


def get_enquiry(db: Database, reference: str) -> Enquiry | None:
    """The enquiry with this reference, or None."""
    with db.session() as session:
        return session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()


# A reference as customers type it: BP-2026-000123.
REFERENCE_PATTERN = rf"\b{REFERENCE_PREFIX}-\d{{4}}-\d{{6}}\b"
MAX_TRANSCRIPT_TURN_CHARS = 2000
_NO_VALUE = (None, "", "-")


@dataclass
class CustomerDetails:
    """The contact shared by every enquiry of one submission."""

    name: str
    company: str | None
    business_id: str | None
    email: str | None
    phone: str | None
    language: str
    reply_language: str
    notice_version: str

    @classmethod
    def from_slots(cls, slots: dict[str, Any], *, language: str,
                   notice_version: str) -> CustomerDetails:
        """From the form's slots (name, company, business_id, contact, reply_language)."""
        from bot.nlu.validators import EMAIL, normalise_phone

        contact = str(slots.get("contact") or "")
        email = EMAIL.search(contact)
        return cls(
            name=str(slots.get("name") or ""),
            company=None if slots.get("company") in _NO_VALUE else str(slots["company"]),
            business_id=None if slots.get("business_id") in _NO_VALUE
            else str(slots["business_id"]),
            email=email.group(0).lower() if email else None,
            phone=None if email else normalise_phone(contact),
            language=language, reply_language=str(slots.get("reply_language") or language),
            notice_version=notice_version)


def transcript(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation's messages, for the staff: who said what."""
    turns = []
    for event in events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            turns.append({"from": "customer" if event["event"] == "user" else "bot",
                          "text": mask_personal_ids(
                              str(event["text"])[:MAX_TRANSCRIPT_TURN_CHARS])})
    return turns


def submit_matters(db: Database, sender_id: str, customer: CustomerDetails,
                   matters: list[tuple[dict[str, Any], str]], events: list[dict[str, Any]],
                   *, confidence: float | None = None, render: Any = None) -> list[str]:
    """Store one enquiry per matter with its notifications, in one transaction.

    `matters` pairs each matter ({unit, intent, text}) with its unit contact's address.
    Returns the references in order. Sending the summary is the customer's consent: its
    time is stored with the notice version on every enquiry.
    """
    shared = transcript(events)
    references = []
    now = datetime.now(UTC)
    with db.session() as session:
        for matter, unit_contact in matters:
            enquiry, reference = _add_enquiry(session, NewEnquiry(
                sender_id=sender_id, language=customer.language,
                reply_language=customer.reply_language, intent=matter.get("intent"),
                confidence=confidence, unit=matter["unit"], unit_contact=unit_contact,
                customer_name=customer.name, company=customer.company,
                business_id=customer.business_id, customer_email=customer.email,
                customer_phone=customer.phone, notice_version=customer.notice_version,
                customer_text=mask_personal_ids(str(matter.get("text") or "")),
                transcript=shared), now)
            _queue(session, enquiry, list(render(enquiry)) if render else [], now)
            references.append(reference)
    return references


@dataclass
class EnquiryStatus:
    """What the customer may learn of an enquiry, with what proves it is theirs."""

    reference: str
    status: str
    unit: str
    sender_id: str | None
    customer_email: str | None


def enquiry_status(db: Database, reference: str) -> EnquiryStatus | None:
    """The status of the enquiry with this reference, or None."""
    enquiry = get_enquiry(db, reference)
    if enquiry is None or enquiry.reference is None:
        return None
    return EnquiryStatus(enquiry.reference, enquiry.status, enquiry.unit, enquiry.sender_id,
                         enquiry.customer_email)


# Status lookups per minute (the shared database limiter): per conversation, per
# reference asked about and per e-mail address given, so that neither references nor the
# e-mail address of a reference can be guessed by asking again and again.
STATUS_LOOKUPS_PER_MINUTE = {"conversation": 6, "reference": 5, "email": 5}


def _key_digest(value: str) -> str:
    """A short digest: no conversation id or e-mail address is stored in the limiter."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def status_lookup_wait(db: Database, sender_id: str, reference: str, email: str | None,
                       now: float | None = None) -> int | None:
    """Count one status lookup; the seconds to wait when over a limit, else None.

    Args:
        db: The database whose limiter every process shares.
        sender_id: The conversation asking.
        reference: The reference asked about (BP-YYYY-NNNNNN).
        email: The e-mail address given with it, if any.
        now: The time (for tests); default now.
    """
    per = STATUS_LOOKUPS_PER_MINUTE
    keys = [(f"status:conversation:{_key_digest(sender_id)}", per["conversation"]),
            (f"status:reference:{reference.upper()}", per["reference"])]
    if email:
        keys.append((f"status:email:{_key_digest(email.strip().lower())}", per["email"]))
    return limits.hit(db, keys, now=now)


def provable_status(db: Database, reference: str, *, sender_id: str,
                    email: str | None) -> EnquiryStatus | None:
    """The enquiry's status when the conversation proves it is its own, else None.

    Proof: the enquiry was made in this conversation, or `email` is the address it was
    sent with. A missing enquiry and one not proven read the same (None).
    """
    found = enquiry_status(db, reference.upper())
    if found is None:
        return None
    if found.sender_id == sender_id:
        return found
    given = (email or "").strip().lower()
    if given and found.customer_email and hmac.compare_digest(
            given.encode(), found.customer_email.strip().lower().encode()):
        return found
    return None
