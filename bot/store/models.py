"""SQLAlchemy models: conversations and their events, enquiries, corrections, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Conversation(Base):
    """One conversation (a sender id of the widget or a REST client)."""

    __tablename__ = "conversation"

    sender_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # The lease of the process handling a turn (no connection is held across the turn).
    lock_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[float | None] = mapped_column(Float)
    # Random per conversation: the token the server issues is an HMAC of the sender id and
    # this salt (bot/server/conversation_token.py).
    token_salt: Mapped[str | None] = mapped_column(String(32))
    # Or the SHA-256 of a token the client chose and sent with the first message.
    token_hash: Mapped[str | None] = mapped_column(String(64))


class ConversationEvent(Base):
    """One Rasa event of a conversation, in order (`seq`)."""

    __tablename__ = "conversation_event"
    __table_args__ = (Index("ix_event_sender_seq", "sender_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("conversation.sender_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Enquiry(Base):
    """A routed enquiry: what the receiving unit needs, with consent."""

    __tablename__ = "enquiry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    sender_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    language: Mapped[str] = mapped_column(String(8))
    reply_language: Mapped[str] = mapped_column(String(8))
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    unit_contact: Mapped[str] = mapped_column(String(254))
    customer_name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    business_id: Mapped[str | None] = mapped_column(String(16))
    customer_email: Mapped[str | None] = mapped_column(String(254), index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notice_version: Mapped[str] = mapped_column(String(32))
    customer_text: Mapped[str] = mapped_column(Text)
    transcript: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    history: Mapped[list[Any]] = mapped_column(JSON)


class RoutingCorrection(Base):
    """Staff moved an enquiry to another unit: training material for maintainers."""

    __tablename__ = "routing_correction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enquiry_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("enquiry.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    predicted_intent: Mapped[str | None] = mapped_column(String(64))
    from_unit: Mapped[str] = mapped_column(String(64))
    to_unit: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    staff: Mapped[str | None] = mapped_column(String(128))


class OutboxMessage(Base):
    """A notification to deliver (e-mail or webhook), retried until sent or failed."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    enquiry_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("enquiry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "email" or "webhook"
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The token of the worker's claim while `sending` (next_attempt_at is the lease's
    # start): a worker sends a message only while its own claim holds.
    claim: Mapped[str | None] = mapped_column(String(32))


class StaffUser(Base):
    """A staff member who handles the enquiries of some units (an admin: of all)."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    units: Mapped[list[Any]] = mapped_column(JSON)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8), default="fi")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Wrong passwords in a row; after too many the account is locked for a while (an
    # admin can clear it). Signing out raises the session version: every cookie of an
    # older version stops working ("sign out everywhere").
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[float | None] = mapped_column(Float)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # "staff" (their units' enquiries), "maintainer" (also the review inbox) or
    # "coordinator" (also the statistics); an admin has every role.
    role: Mapped[str] = mapped_column(String(16), default="staff", server_default="staff")


class RateLimit(Base):
    """Requests per key (an address, a conversation, a sign-in name) per minute window.

    Shared by every process and host that uses the database.
    """

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)


class ModelPromotion(Base):
    """A model made live (the newest row is the live model for every process and host)."""

    __tablename__ = "model_promotion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(String(128))
    previous_model_id: Mapped[str | None] = mapped_column(String(128))
    promoted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # sha256 of the folder's files (names and contents) when promoted; a server loads the
    # folder only while it matches (None: promoted before digests were recorded).
    digest: Mapped[str | None] = mapped_column(String(64))
    # A step back (`bpbot models rollback`): it undoes the promotion before it.
    rollback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReviewLabel(Base):
    """A maintainer's label for a message the assistant was unsure of (masked text)."""

    __tablename__ = "review_label"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)  # the text, normalised
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(64))  # an intent, "out_of_scope" or "skip"
    staff: Mapped[str | None] = mapped_column(String(64))
    labelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pulled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewLabelSender(Base):
    """A conversation whose message a review label was made from (erased with it)."""

    __tablename__ = "review_label_sender"
    __table_args__ = (Index("ix_review_label_sender", "label_id", "sender_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_label.id", ondelete="CASCADE"))
    sender_id: Mapped[str] = mapped_column(String(128), index=True)


class EnquiryRating(Base):
    """The customer's 1-5 rating of an answered enquiry (one per enquiry; the last counts)."""

    __tablename__ = "enquiry_rating"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enquiry_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("enquiry.id", ondelete="CASCADE"), unique=True)
    unit: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CandidateJob(Base):
    """A candidate model trained and gated in the background (started in the review inbox)."""

    __tablename__ = "candidate_job"
    __table_args__ = (Index("ix_candidate_job_active", "active", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16))  # training, evaluating, done, failed
    step: Mapped[str | None] = mapped_column(String(200))
    model_id: Mapped[str | None] = mapped_column(String(128))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 1 while the job runs, NULL after: the unique key lets one INSERT of a running job win
    # across every process. The process running it renews its lease (holder, until: epoch
    # seconds); a lease that ran out means that process stopped.
    active: Mapped[int | None] = mapped_column(Integer)
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[float | None] = mapped_column(Float)
