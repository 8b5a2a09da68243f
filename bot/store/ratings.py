"""Customer ratings: asked once an enquiry is answered, one rating per enquiry.

The request goes only to a customer who gave an e-mail address and the consent of the
enquiry form, through the outbox, in their language. Each link carries a token: the time
it was issued and an HMAC of the reference and that time under the session secret, so a
guessed reference rates nothing, a link expires (`rating_link_days` after it was sent)
and no token is stored anywhere but in the e-mail. Opening a link (GET: mail scanners do)
only shows the choices; the score is recorded by the form's POST, once: a second one is
told the rating was already received.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.notify.messages import rating_request
from bot.store.db import Database
from bot.store.models import Enquiry, EnquiryRating, OutboxMessage

SCORES = (1, 2, 3, 4, 5)
DEFAULT_LINK_DAYS = 30
_DAY_S = 86400
_INSERT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class Outcome(Enum):
    """What a rating link or its form came to."""

    OPEN = "open"
    """The link is the enquiry's, within its time and not used: show the choices."""
    RECORDED = "recorded"
    """The score (and comment) was recorded now."""
    ALREADY_RATED = "already_rated"
    """A rating of the enquiry was received before: the link has been used."""
    EXPIRED = "expired"
    """The link is the enquiry's but older than the days it works."""
    NOT_FOUND = "not_found"
    """No such enquiry, or a token that is not its own (the same answer for both)."""


@dataclass(frozen=True)
class LinkResult:
    """The outcome of opening or using a rating link."""

    outcome: Outcome
    """What happened."""
    language: str
    """The enquiry's reply language (the page's), "en" when there is no enquiry."""


def token(secret: str, reference: str, issued: int) -> str:
    """The rating token of an enquiry issued at `issued` (seconds since the epoch)."""
    mac = hmac.new(secret.encode(), f"rating:{reference}:{issued}".encode(),
                   hashlib.sha256).hexdigest()[:32]
    return f"{issued}-{mac}"


def _legacy_token(secret: str, reference: str) -> str:
    """The token of links sent before links expired (no issue time in it)."""
    return hmac.new(secret.encode(), f"rating:{reference}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def issued_at(secret: str, reference: str, given: str | None) -> int | None:
    """The issue time a genuine token of the enquiry carries; None for any other text."""
    given = str(given or "")
    issued, _, mac = given.partition("-")
    if not given.isascii() or not issued.isdigit() or len(issued) > 12 or not mac:
        return None
    expected = token(secret, reference, int(issued))
    return int(issued) if hmac.compare_digest(expected, given) else None


def links(public_url: str, secret: str, reference: str, issued: int | None = None
          ) -> dict[int, str]:
    """The link of each score (it opens the rating page with that score chosen)."""
    base = public_url.rstrip("/") + f"/rate/{reference}?"
    code = token(secret, reference, int(time.time()) if issued is None else issued)
    return {s: base + urlencode({"score": s, "token": code}) for s in SCORES}


def request_rating(db: Database, reference: str, public_url: str, secret: str,
                   valid_days: int = DEFAULT_LINK_DAYS) -> bool:
    """Queue the rating e-mail of an answered enquiry (once); whether one was queued."""
    with db.session() as session:
        enquiry = session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()
        if enquiry is None or not enquiry.customer_email or enquiry.consent_at is None:
            return False
        key = f"{reference}:rating"
        if session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.idempotency_key == key)).first() is not None:
            return False
        now = datetime.now(UTC)
        subject, body = rating_request(
            enquiry, links(public_url, secret, reference, int(now.timestamp())), valid_days)
        session.add(OutboxMessage(idempotency_key=key, enquiry_id=enquiry.id, kind="email",
                                  recipient=enquiry.customer_email, subject=subject, body=body,
                                  status="pending", attempts=0, next_attempt_at=now,
                                  created_at=now))
        return True


def _issued(session: Any, secret: str, enquiry: Enquiry, given: str | None) -> int | None:
    """When the link was issued; a link of the old form counts from its e-mail's queueing."""
    reference = str(enquiry.reference)
    issued = issued_at(secret, reference, given)
    if issued is not None or not given or not given.isascii():
        return issued
    if not hmac.compare_digest(_legacy_token(secret, reference), str(given)):
        return None
    queued = session.scalars(select(OutboxMessage.created_at).where(
        OutboxMessage.idempotency_key == f"{reference}:rating")).first()
    if queued is None:
        return None
    return int((queued if queued.tzinfo else queued.replace(tzinfo=UTC)).timestamp())


def _check(session: Any, secret: str, reference: str, given: str | None, days: int,
           now: float) -> tuple[Outcome, Enquiry | None]:
    enquiry = session.scalars(select(Enquiry).where(Enquiry.reference == reference)).first()
    if enquiry is None:
        return Outcome.NOT_FOUND, None
    issued = _issued(session, secret, enquiry, given)
    if issued is None:
        return Outcome.NOT_FOUND, None
    if now - issued > days * _DAY_S:
        return Outcome.EXPIRED, enquiry
    rated = session.scalars(select(EnquiryRating.id).where(
        EnquiryRating.enquiry_id == enquiry.id)).first()
    return (Outcome.ALREADY_RATED if rated is not None else Outcome.OPEN), enquiry


def _language(enquiry: Enquiry | None) -> str:
    return enquiry.reply_language if enquiry is not None else "en"


def open_link(db: Database, secret: str, reference: str, given: str | None, *,
              days: int = DEFAULT_LINK_DAYS, now: float | None = None) -> LinkResult:
    """What opening the link shows; it records nothing (a mail scanner may open it)."""
    now = time.time() if now is None else now
    with db.session() as session:
        outcome, enquiry = _check(session, secret, reference, given, days, now)
        return LinkResult(outcome, _language(enquiry))


def rate_once(db: Database, secret: str, reference: str, given: str | None, score: int,
              comment: str | None = None, *, days: int = DEFAULT_LINK_DAYS,
              now: float | None = None) -> LinkResult:
    """Record the score (and comment) of a valid, unexpired, unused link.

    One INSERT that does nothing when the enquiry has a rating already, in a transaction
    of its own (it waits for a writer beside it, on SQLite too): of two posts at once only
    one records.

    Raises:
        ValueError: a score outside 1-5.
    """
    if score not in SCORES:
        raise ValueError(f"score {score} is not one of {SCORES[0]}-{SCORES[-1]}")
    now = time.time() if now is None else now
    with db.session() as session:
        outcome, enquiry = _check(session, secret, reference, given, days, now)
    if outcome is not Outcome.OPEN or enquiry is None:
        return LinkResult(outcome, _language(enquiry))
    table = EnquiryRating.__table__
    with db.session() as session:
        inserted = session.execute(
            _INSERT[db.dialect](table).values(
                enquiry_id=enquiry.id, unit=enquiry.unit, language=enquiry.reply_language,
                score=score, comment=(comment or "").strip()[:2000] or None,
                rated_at=datetime.fromtimestamp(now, UTC))
            .on_conflict_do_nothing(index_elements=["enquiry_id"])
            .returning(table.c.id)).first()
    return LinkResult(Outcome.RECORDED if inserted is not None else Outcome.ALREADY_RATED,
                      enquiry.reply_language)


def per_unit(db: Database) -> list[tuple[str, float, int]]:
    """(unit, average score, ratings) per unit."""
    with db.session() as session:
        rows = session.execute(select(EnquiryRating.unit, func.avg(EnquiryRating.score),
                                      func.count()).group_by(EnquiryRating.unit)
                               .order_by(EnquiryRating.unit))
        return [(str(u), round(float(a), 2), int(n)) for u, a, n in rows]
