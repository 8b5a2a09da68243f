"""The outbox worker: delivers queued e-mails and webhooks, with retries and backoff.

A message is claimed (status `sending` with the claim's token, PostgreSQL: `FOR UPDATE
SKIP LOCKED`, so two workers never take the same row), delivered, then marked `sent`. A
failure puts it back to `pending` with the next attempt after an exponentially growing
delay; after the last attempt it is `failed`: listed for admins in the staff inbox and
counted in /metrics, until `bpbot outbox retry` queues it again. E-mails carry a
Message-ID derived from the message's idempotency key (one per outbox row), so every
resend of a message is recognisable as the same one.

Exactly once, while the worker lives:

1. Just before the send the worker renews its lease in the database, only while its own
   claim holds (one conditional UPDATE): a message another worker took over, or one that
   the database cannot record as being sent, is not sent.
2. After the send, `sent` is recorded. When the database refuses that write (a full disk,
   a lost connection), the worker keeps retrying that record, never the send, and does
   nothing else until it lands: `run_once` records the held ones before it claims more.
3. A claim older than `stale_claim_s` is taken again (within a minute): a worker that died
   between the send and the record, or lost its database for longer than the lease while
   another worker got it back first, leaves a message that is sent again with the same
   Message-ID. That case is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import smtplib
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import Enquiry, OutboxMessage

logger = logging.getLogger(__name__)
SENDING = "sending"
FAILED = "failed"
# A claim this old belongs to a worker that died (or lost its database) mid-send: taken
# again. Longer than one delivery can take (the SMTP timeout, a few steps).
STALE_CLAIM_S = 45.0
# Pauses between the tries of recording `sent` within one delivery (then each run_once).
RECORD_RETRY_S = (0.05, 0.2, 0.5)


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
        # This worker's claims: message id -> token.
        self._claims: dict[int, str] = {}
        # Sent, but `sent` not yet recorded: message id -> attempts to record.
        self._unrecorded: dict[int, int] = {}

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
            tokens = {}
            for message_id in ids:
                # The status check makes the claim safe on SQLite too: a row another worker
                # claimed in between is not updated (rowcount 0).
                token = secrets.token_hex(16)
                result = session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == message_id, due)
                    .values(status=SENDING, next_attempt_at=now, claim=token))
                if result.rowcount:  # type: ignore[attr-defined]
                    claimed.append(message_id)
                    tokens[message_id] = token
        self._claims.update(tokens)  # once committed
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

    def _renew(self, message_id: int, token: str) -> bool:
        """Renew the lease of this worker's claim just before sending; False when lost."""
        with self.db.session() as session:
            result = session.execute(update(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.status == SENDING,
                OutboxMessage.claim == token).values(next_attempt_at=datetime.now(UTC)))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def deliver(self, message_id: int) -> bool:
        """Deliver one message this worker claimed; True when sent.

        Sent means sent even when the database refused to record it: the record is then
        retried (`record_sent`), never the send.
        """
        token = self._claims.pop(message_id, None)
        if token is None or not self._renew(message_id, token):
            return False
        with self.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None:
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
            self._failed(message, token, str(exc))
            return False
        logger.info("Delivered %s (outbox message %d)", message.kind, message_id)
        self._unrecorded[message_id] = message.attempts + 1
        for pause in (*RECORD_RETRY_S, None):
            if self.record_sent() or pause is None:
                break
            time.sleep(pause)
        return True

    def record_sent(self) -> bool:
        """Record `sent` for the messages sent but not yet recorded; True when none is left.

        A message whose record fails stays held here (in this process) and is tried again
        on the next call; it is never sent again by this worker.
        """
        for message_id, attempts in list(self._unrecorded.items()):
            try:
                with self.db.session() as session:
                    session.execute(update(OutboxMessage).where(
                        OutboxMessage.id == message_id).values(
                        status="sent", sent_at=datetime.now(UTC), attempts=attempts,
                        last_error=None, claim=None))
            except SQLAlchemyError as exc:
                logger.warning("Outbox message %d was sent, but the database refused to "
                               "record it (%s); recording it again, not sending it again",
                               message_id, type(exc).__name__)
                return False
            del self._unrecorded[message_id]
        return True

    def _failed(self, message: OutboxMessage, token: str, error: str) -> None:
        attempts = message.attempts + 1
        final = attempts >= self.settings.outbox_max_attempts
        delay = self.settings.outbox_backoff_s * (2 ** (attempts - 1))
        with self.db.session() as session:
            # Only while this worker's claim holds (another may have taken it over since).
            session.execute(update(OutboxMessage).where(
                OutboxMessage.id == message.id, OutboxMessage.claim == token).values(
                status=FAILED if final else "pending", attempts=attempts, last_error=error,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay), claim=None))
        logger.warning("Delivery of %s failed (attempt %d%s): %s", message.idempotency_key,
                       attempts, ", giving up" if final else "", error)

    def run_once(self, limit: int = 20) -> int:
        """Claim and deliver what is due; return how many were sent.

        Messages sent but not yet recorded are recorded first; while that fails, nothing
        else is claimed or sent (the rest of a batch waits for its claim to go stale).
        """
        if not self.record_sent():
            return 0
        sent = 0
        for message_id in self.claim(limit):
            if self._unrecorded:
                self._claims.pop(message_id, None)
                continue
            sent += self.deliver(message_id)
        return sent

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
