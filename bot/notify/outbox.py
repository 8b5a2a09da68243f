"""The outbox worker: delivers queued e-mails and webhooks, with retries and backoff.

A message is claimed (status `sending`, PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two
workers never take the same row), delivered, then marked `sent`. A failure puts it back to
`pending` with the next attempt after an exponentially growing delay; after the last
attempt it is `failed`: listed for admins in the staff inbox and counted in /metrics,
until `bpbot outbox retry` queues it again. A claim older than `stale_claim_s` (a worker
that died mid-send, or lost its database) is taken again within a minute. E-mails carry a
Message-ID derived from the message's idempotency key (one per outbox row), so every
resend of a message is recognisable as the same one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, func, or_, select, update

from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Enquiry, OutboxMessage

logger = logging.getLogger(__name__)
SENDING = "sending"
FAILED = "failed"
# A claim this old belongs to a worker that died (or lost its database) mid-send: taken
# again. Longer than one delivery can take (the SMTP timeout, a few steps).
STALE_CLAIM_S = 45.0


def sign(body: bytes, secret: str) -> str:
    """The webhook signature header value: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryError(Exception):
    """One delivery attempt failed (the message will be retried)."""


class OutboxWorker:
    """Delivers due outbox messages."""

    def __init__(self, db: Database, settings: Settings, *,
                 stale_claim_s: float = STALE_CLAIM_S) -> None:
        self.db = db
        self.settings = settings
        self.stale_claim_s = stale_claim_s

    # -- claiming -------------------------------------------------------------------------

    def claim(self, limit: int = 20, now: datetime | None = None) -> list[int]:
        """Mark up to `limit` due messages as being sent by this worker; return their ids."""
        now = now or datetime.now(UTC)
        stale = now - timedelta(seconds=self.stale_claim_s)
        due = or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                  and_(OutboxMessage.status == SENDING, OutboxMessage.next_attempt_at <= stale))
        with self.db.session() as session:
            query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            claimed = []
            for message_id in ids:
                # The status check makes the claim safe on SQLite too: a row another worker
                # claimed in between is not updated (rowcount 0).
                result = session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == message_id, due)
                    .values(status=SENDING, next_attempt_at=now))
                if result.rowcount:  # type: ignore[attr-defined]
                    claimed.append(message_id)
            return claimed

    # -- sending --------------------------------------------------------------------------

    def _send_email(self, message: OutboxMessage) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.mail_from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or ""
        # The same on every resend (make_msgid would add the time and a random number).
        key = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{key}.bpbot@{s.mail_from.split('@')[-1]}>"
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {s.smtp_host}:{s.smtp_port}: "
                                f"{type(exc).__name__}: {exc}") from exc

    def _send_webhook(self, message: OutboxMessage) -> None:
        import httpx

        body = message.body.encode()
        headers = {"Content-Type": "application/json",
                   "X-Bpbot-Signature": sign(body, self.settings.webhook_secret),
                   "X-Bpbot-Delivery": message.idempotency_key}
        try:
            response = httpx.post(message.recipient, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryError(f"webhook answered {response.status_code}")

    def deliver(self, message_id: int) -> bool:
        """Deliver one claimed message; True when sent."""
        with self.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None or message.status != SENDING:
                return False
            session.expunge(message)
        try:
            if message.kind == "email":
                self._send_email(message)
            elif message.kind == "webhook":
                self._send_webhook(message)
            else:
                raise DeliveryError(f"unknown kind '{message.kind}'")
        except DeliveryError as exc:
            self._failed(message, str(exc))
            return False
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
                status="sent", sent_at=datetime.now(UTC), attempts=message.attempts + 1,
                last_error=None))
        logger.info("Delivered %s %s", message.kind, message.idempotency_key)
        return True

    def _failed(self, message: OutboxMessage, error: str) -> None:
        attempts = message.attempts + 1
        final = attempts >= self.settings.outbox_max_attempts
        delay = self.settings.outbox_backoff_s * (2 ** (attempts - 1))
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
                status=FAILED if final else "pending", attempts=attempts, last_error=error,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay)))
        logger.warning("Delivery of %s failed (attempt %d%s): %s", message.idempotency_key,
                       attempts, ", giving up" if final else "", error)

    def run_once(self, limit: int = 20) -> int:
        """Claim and deliver what is due; return how many were sent."""
        return sum(self.deliver(i) for i in self.claim(limit))

    def run(self, *, interval_s: float = 2.0, stop_after_s: float | None = None) -> None:
        """Deliver until stopped (Ctrl-C), or for `stop_after_s` seconds."""
        started = time.monotonic()
        while stop_after_s is None or time.monotonic() - started < stop_after_s:
            self.run_once()
            time.sleep(interval_s)

    def retry_failed(self, reference: str | None = None) -> int:
        """Queue failed messages again (of one enquiry, or all); return how many.

        Each starts over with a full set of attempts. Its idempotency key and Message-ID
        stay the same, and a message already sent is never queued again.
        """
        query = update(OutboxMessage).where(OutboxMessage.status == FAILED)
        if reference is not None:
            query = query.where(OutboxMessage.enquiry_id.in_(
                select(Enquiry.id).where(Enquiry.reference == reference)))
        with self.db.session() as session:
            result = session.execute(query.values(
                status="pending", attempts=0, next_attempt_at=datetime.now(UTC)))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def pending(self) -> list[OutboxMessage]:
        """Messages not yet sent (pending, sending or failed), oldest first."""
        with self.db.session() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status != "sent")
                                   .order_by(OutboxMessage.id))
            return list(rows)


def failed_deliveries(db: Database) -> list[tuple[str | None, str, str, str | None]]:
    """Messages that gave up: (enquiry reference, kind, recipient, last error), oldest first."""
    with db.session() as session:
        rows = session.execute(
            select(Enquiry.reference, OutboxMessage.kind, OutboxMessage.recipient,
                   OutboxMessage.last_error)
            .outerjoin(Enquiry, Enquiry.id == OutboxMessage.enquiry_id)
            .where(OutboxMessage.status == FAILED).order_by(OutboxMessage.id))
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def count_by_status(db: Database) -> dict[str, int]:
    """Outbox messages per status (pending, sending, sent, failed)."""
    with db.session() as session:
        rows = session.execute(select(OutboxMessage.status, func.count())
                               .group_by(OutboxMessage.status))
        return {str(status): int(count) for status, count in rows}
