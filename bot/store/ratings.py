"""Customer ratings: asked once an enquiry is answered, one click in the e-mail.

The request goes only to a customer who gave an e-mail address and the consent of the
enquiry form, through the outbox, in their language. Each link carries a token (an HMAC
of the reference under the session secret), so a guessed reference rates nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import func, select

from bot.notify.messages import rating_request
from bot.store.db import Database
from bot.store.models import Enquiry, EnquiryRating, OutboxMessage

SCORES = (1, 2, 3, 4, 5)


def token(secret: str, reference: str) -> str:
    """The rating token of an enquiry."""
    return hmac.new(secret.encode(), f"rating:{reference}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def valid(secret: str, reference: str, given: str | None) -> bool:
    """Whether `given` is the enquiry's rating token."""
    return bool(given) and hmac.compare_digest(token(secret, reference), str(given))


def links(public_url: str, secret: str, reference: str) -> dict[int, str]:
    """The one-click link of each score."""
    base = public_url.rstrip("/") + f"/rate/{reference}?"
    code = token(secret, reference)
    return {s: base + urlencode({"score": s, "token": code}) for s in SCORES}


def request_rating(db: Database, reference: str, public_url: str, secret: str) -> bool:
    """Queue the rating e-mail of an answered enquiry (once); whether one was queued."""
    with db.session() as session:
        enquiry = session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()
        if enquiry is None or not enquiry.customer_email or enquiry.consent_at is None:
            return False
        key = f"{reference}:rating"
        if session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.idempotency_key == key)).first() is not None:
            return False
        subject, body = rating_request(enquiry, links(public_url, secret, reference))
        now = datetime.now(UTC)
        session.add(OutboxMessage(idempotency_key=key, enquiry_id=enquiry.id, kind="email",
                                  recipient=enquiry.customer_email, subject=subject, body=body,
                                  status="pending", attempts=0, next_attempt_at=now,
                                  created_at=now))
        return True


def rate(db: Database, reference: str, score: int, comment: str | None = None) -> str | None:
    """Record (or change) the rating; the enquiry's reply language, None if not found."""
    if score not in SCORES:
        raise ValueError(f"score {score} is not one of 1-5")
    with db.session() as session:
        enquiry = session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()
        if enquiry is None:
            return None
        row = session.scalars(select(EnquiryRating).where(
            EnquiryRating.enquiry_id == enquiry.id)).first()
        if row is None:
            row = EnquiryRating(enquiry_id=enquiry.id, unit=enquiry.unit,
                                language=enquiry.reply_language, score=score,
                                rated_at=datetime.now(UTC))
            session.add(row)
        row.score, row.rated_at = score, datetime.now(UTC)
        if comment is not None:
            row.comment = comment.strip()[:2000] or None
        return enquiry.reply_language


def per_unit(db: Database) -> list[tuple[str, float, int]]:
    """(unit, average score, ratings) per unit."""
    with db.session() as session:
        rows = session.execute(select(EnquiryRating.unit, func.avg(EnquiryRating.score),
                                      func.count()).group_by(EnquiryRating.unit)
                               .order_by(EnquiryRating.unit))
        return [(str(u), round(float(a), 2), int(n)) for u, a, n in rows]
