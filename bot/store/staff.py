"""Staff accounts and the enquiry work of the staff inbox."""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Enquiry, OutboxMessage, RoutingCorrection, StaffUser

STATUSES = ("new", "in_progress", "answered", "closed")
ROLES = ("staff", "maintainer", "coordinator")
_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9._-]{2,64}$")
MIN_PASSWORD = 12
# Wrong passwords in a row before the account is locked, and for how long.
MAX_FAILED_LOGINS = 10
LOCKOUT_S = 15 * 60
# Hashes checked at once in a process (argon2 takes 64 MiB and a core or more each): a
# burst of sign-ins queues here, in threads that hold no database connection.
HASHING_AT_ONCE = max(2, os.cpu_count() or 2)
_HASHING = threading.BoundedSemaphore(HASHING_AT_ONCE)


class StaffError(ValueError):
    """A staff operation that cannot be done (the message says why and what to do).

    `code` names the text the staff inbox shows instead, in the page's language.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class AccountLockedError(Exception):
    """Too many wrong passwords: the account is locked for `seconds` more."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"locked for {int(seconds)} more seconds")
        self.seconds = seconds


@dataclass(frozen=True)
class StaffMember:
    """The signed-in staff member."""

    id: int
    username: str
    units: tuple[str, ...]
    is_admin: bool
    language: str
    session_version: int = 0
    role: str = "staff"

    @property
    def may_review(self) -> bool:
        """Whether the review inbox of unsure messages is this member's (maintainers)."""
        return self.is_admin or self.role == "maintainer"

    @property
    def may_see_statistics(self) -> bool:
        """Whether the statistics across units are this member's (coordinators)."""
        return self.is_admin or self.role == "coordinator"

    def may_see(self, unit: str) -> bool:
        """Whether enquiries of `unit` are this member's."""
        return self.is_admin or unit in self.units


def _member(user: StaffUser) -> StaffMember:
    return StaffMember(user.id, user.username, tuple(user.units), user.is_admin, user.language,
                       user.session_version or 0, user.role or "staff")


def add_staff(db: Database, username: str, password: str, units: list[str], *,
              is_admin: bool = False, language: str = "fi",
              known_units: set[str] | None = None, role: str = "staff") -> StaffMember:
    """Create an account; the password is stored as an argon2 hash.

    Raises:
        StaffError: for a taken or malformed username, a short password or an unknown unit.
    """
    if not _USERNAME.match(username):
        raise StaffError(f"Username '{username}' must be 2-64 characters of a-z, 0-9, '.', "
                         "'_' or '-'.")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"The password has {len(password)} characters; use at least "
                         f"{MIN_PASSWORD}.")
    unknown = sorted(set(units) - (known_units or set(units)))
    if unknown:
        raise StaffError(f"Unknown units {unknown}. Known units: "
                         f"{', '.join(sorted(known_units or []))}.")
    if role not in ROLES:
        raise StaffError(f"Role '{role}' is not one of {', '.join(ROLES)}.")
    if not units and not is_admin and role == "staff":
        raise StaffError("Give at least one --unit, or --admin for access to every unit "
                         "(a maintainer or coordinator may have none).")
    if language not in ("fi", "sv", "en"):
        raise StaffError(f"Language '{language}' is not one of fi, sv, en.")
    with db.session() as session:
        if session.scalars(select(StaffUser).where(StaffUser.username == username)).first():
            raise StaffError(f"Username '{username}' is taken.")
        user = StaffUser(username=username, password_hash=_HASHER.hash(password),
                         units=sorted(set(units)), is_admin=is_admin, language=language,
                         role=role,
                         created_at=datetime.now(UTC))
        session.add(user)
        session.flush()
        return _member(user)


def _verify(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash` (argon2; a few at once, see HASHING_AT_ONCE)."""
    with _HASHING:
        try:
            return bool(_HASHER.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


def _unlocked(now: float) -> Any:
    return or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now)


def _count_attempt(db: Database, username: str, now: float) -> tuple[int, str, int] | None:
    """Count one sign-in attempt in the database before its hash is checked.

    One UPDATE ... RETURNING: concurrent attempts each get their own number, on SQLite and
    PostgreSQL alike. Returns (account id, password hash, this attempt's number since the
    last right password), or None for an unknown or disabled account.

    Raises:
        AccountLockedError: the account is locked (the attempt is not counted).
    """
    counted = (update(StaffUser)
               .where(StaffUser.username == username, StaffUser.disabled.isnot(True),
                      _unlocked(now))
               .values(failed_logins=StaffUser.failed_logins + 1)
               .returning(StaffUser.id, StaffUser.password_hash, StaffUser.failed_logins))
    with db.session() as session:
        row = session.execute(counted).first()
        if row is not None:
            return int(row[0]), str(row[1]), int(row[2])
        found = session.execute(select(StaffUser.disabled, StaffUser.locked_until).where(
            StaffUser.username == username)).first()
    if found is None or found[0]:
        return None
    raise AccountLockedError(max(0.0, float(found[1] or now) - now))


def _lock(db: Database, user_id: int, now: float) -> None:
    """Lock the account for LOCKOUT_S (unless it is locked already); the count restarts."""
    with db.session() as session:
        session.execute(update(StaffUser).where(StaffUser.id == user_id, _unlocked(now))
                        .values(failed_logins=0, locked_until=now + LOCKOUT_S))


def authenticate(db: Database, username: str, password: str, *, now: float | None = None
                 ) -> StaffMember | None:
    """The member when the password is right, else None (same answer for unknown names).

    MAX_FAILED_LOGINS wrong passwords in a row lock the account for LOCKOUT_S (an admin
    can clear it: `bpbot staff unlock`); while locked even the right password is refused.
    Each attempt is counted in the database before its hash is checked, so concurrent
    attempts cannot share a count: at most MAX_FAILED_LOGINS are checked, the rest are
    refused as locked. No database connection is held while argon2 runs (call this in a
    thread, never on the event loop).

    Raises:
        AccountLockedError: the account is locked.
    """
    now = time.time() if now is None else now
    counted = _count_attempt(db, username, now)
    if counted is None:
        with _HASHING:
            _HASHER.hash(password)  # spend the same time as a wrong password
        return None
    user_id, password_hash, attempt = counted
    if attempt > MAX_FAILED_LOGINS:  # attempts in flight beyond the limit
        _lock(db, user_id, now)
        raise AccountLockedError(LOCKOUT_S)
    if not _verify(password_hash, password):
        if attempt >= MAX_FAILED_LOGINS:
            _lock(db, user_id, now)
        return None
    with db.session() as session:
        user = session.scalars(update(StaffUser).where(StaffUser.id == user_id,
                                                       _unlocked(now))
                               .values(failed_logins=0, locked_until=None)
                               .returning(StaffUser)).first()
        if user is None:  # locked by attempts beside this one, or removed meanwhile
            raise AccountLockedError(LOCKOUT_S)
        return _member(user)


def unlock(db: Database, username: str) -> None:
    """Clear an account's lockout and its count of wrong passwords.

    Raises:
        StaffError: no such account.
    """
    with db.session() as session:
        user = _account(session, username)
        user.failed_logins, user.locked_until = 0, None


def _account(session: Session, username: str) -> StaffUser:
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise StaffError(f"No staff account '{username}'; `bpbot staff list` shows them.")
    return user


def list_staff(db: Database) -> list[tuple[StaffMember, bool, bool]]:
    """Every account: the member, whether disabled, whether locked now."""
    now = time.time()
    with db.session() as session:
        return [(_member(u), u.disabled, bool(u.locked_until and u.locked_until > now))
                for u in session.scalars(select(StaffUser).order_by(StaffUser.username))]


def set_disabled(db: Database, username: str, disabled: bool = True) -> None:
    """Disable (or enable again) an account; disabling ends its sessions at once.

    Raises:
        StaffError: no such account.
    """
    with db.session() as session:
        user = _account(session, username)
        user.disabled = disabled
        user.session_version += 1


def reset_password(db: Database, username: str, password: str) -> None:
    """Set a new password; every session of the account ends and a lockout is cleared.

    Raises:
        StaffError: no such account, or a short password.
    """
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"The password has {len(password)} characters; use at least "
                         f"{MIN_PASSWORD}.")
    with db.session() as session:
        user = _account(session, username)
        user.password_hash = _HASHER.hash(password)
        user.session_version += 1
        user.failed_logins, user.locked_until = 0, None


def end_sessions(db: Database, member_id: int) -> None:
    """Sign the member out everywhere: every session cookie issued so far stops working."""
    with db.session() as session:
        user = session.get(StaffUser, member_id)
        if user is not None:
            user.session_version += 1


def get_member(db: Database, member_id: int, session_version: int | None = None
               ) -> StaffMember | None:
    """The member with this id (None if removed, or when `session_version` has ended)."""
    with db.session() as session:
        user = session.get(StaffUser, member_id)
        if user is None or user.disabled or (session_version is not None
                            and user.session_version != session_version):
            return None
        return _member(user)


@dataclass
class EnquiryFilter:
    """Filters of the inbox list."""

    status: str | None = None
    unit: str | None = None
    language: str | None = None
    since: date | None = None
    until: date | None = None


def list_enquiries(db: Database, member: StaffMember, filters: EnquiryFilter,
                   limit: int = 200) -> list[Enquiry]:
    """The member's enquiries, newest first."""
    query = select(Enquiry).order_by(Enquiry.created_at.desc()).limit(limit)
    if not member.is_admin:
        query = query.where(Enquiry.unit.in_(member.units))
    if filters.status:
        query = query.where(Enquiry.status == filters.status)
    if filters.unit:
        query = query.where(Enquiry.unit == filters.unit)
    if filters.language:
        query = query.where(Enquiry.language == filters.language)
    if filters.since:
        query = query.where(Enquiry.created_at >= datetime.combine(filters.since,
                                                                   datetime.min.time(), UTC))
    if filters.until:
        query = query.where(Enquiry.created_at < datetime.combine(
            filters.until + timedelta(days=1), datetime.min.time(), UTC))
    with db.session() as session:
        return list(session.scalars(query))


def _enquiry(session: Session, reference: str) -> Enquiry:
    """The enquiry to change, in `session`."""
    return session.scalars(select(Enquiry).where(Enquiry.reference == reference)).one()


def _event(member: StaffMember, event: str, **data: Any) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event,
            "by": member.username, **data}


def set_status(db: Database, member: StaffMember, reference: str, status: str) -> None:
    """Change the status (new, in_progress, answered, closed)."""
    if status not in STATUSES:
        raise StaffError(f"Status '{status}' is not one of {', '.join(STATUSES)}.",
                         "error_status")
    with db.session() as session:
        enquiry = _enquiry(session, reference)
        enquiry.history = [*enquiry.history,
                           _event(member, "status", old=enquiry.status, new=status)]
        enquiry.status = status


def add_note(db: Database, member: StaffMember, reference: str, note: str) -> None:
    """Add a staff note to the enquiry's history."""
    note = note.strip()
    if not note:
        raise StaffError("The note is empty.", "error_note")
    with db.session() as session:
        enquiry = _enquiry(session, reference)
        enquiry.history = [*enquiry.history, _event(member, "note", text=note[:4000])]


def reroute(db: Database, member: StaffMember, reference: str, to_unit: str, reason: str,
            unit_contact: str, notify: Callable[[Enquiry], tuple[str, str]] | None = None
            ) -> None:
    """Move the enquiry to another unit, record the correction, notify the new unit.

    Raises:
        StaffError: for the same unit or an empty reason.
    """
    reason = reason.strip()
    if not reason:
        raise StaffError("Give a reason for the re-routing; maintainers learn from it.",
                         "error_reason")
    with db.session() as session:
        enquiry = _enquiry(session, reference)
        if enquiry.unit == to_unit:
            raise StaffError(f"The enquiry is already with '{to_unit}'.", "error_same_unit")
        session.add(RoutingCorrection(
            enquiry_id=enquiry.id, created_at=datetime.now(UTC), language=enquiry.language,
            text=enquiry.customer_text, predicted_intent=enquiry.intent,
            from_unit=enquiry.unit, to_unit=to_unit, reason=reason[:2000],
            staff=member.username))
        enquiry.history = [*enquiry.history, _event(member, "rerouted", old=enquiry.unit,
                                                    new=to_unit, reason=reason[:2000])]
        enquiry.unit, enquiry.unit_contact, enquiry.status = to_unit, unit_contact, "new"
        if notify is not None:
            subject, body = notify(enquiry)
            count = sum(1 for e in enquiry.history if e.get("event") == "rerouted")
            session.add(OutboxMessage(
                idempotency_key=f"{enquiry.reference}:reroute{count}:{unit_contact}",
                enquiry_id=enquiry.id, kind="email", recipient=unit_contact, subject=subject,
                body=body, status="pending", attempts=0, next_attempt_at=datetime.now(UTC),
                created_at=datetime.now(UTC)))


CSV_COLUMNS = ("reference", "created_at", "status", "unit", "language", "reply_language",
               "intent", "customer_name", "company", "business_id", "customer_email",
               "customer_phone", "customer_text")


def neutralise(cell: str) -> str:
    """A CSV cell that no spreadsheet reads as a formula (= + - @ at the start)."""
    return "'" + cell if cell[:1] in "=+-@" else cell


def enquiries_csv(enquiries: list[Enquiry]) -> str:
    """The enquiries as CSV (UTF-8, one row each)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in enquiries:
        row = [getattr(e, c) for c in CSV_COLUMNS]
        writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()
