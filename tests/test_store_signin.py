"""Sign-in counts that hold under concurrency, with no connection held while hashing."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, update

from bot.store.db import Database
from bot.store.models import StaffUser
from bot.store.staff import (
    MAX_FAILED_LOGINS,
    AccountLockedError,
    add_staff,
    authenticate,
    unlock,
)

PASSWORD = "a long staff password"


def _attempt(db, password):
    """'ok', 'wrong' or 'locked'."""
    try:
        return "ok" if authenticate(db, "streets.staff", password) else "wrong"
    except AccountLockedError:
        return "locked"


@pytest.mark.parametrize("attempts", [15, 25])
def test_store_signin_concurrent_wrong_passwords_lock_at_the_limit(db, attempts):
    """Before: 15 wrong passwords at once counted as 1 (read-modify-write): never locked."""
    add_staff(db, "streets.staff", PASSWORD, ["streets"])
    with ThreadPoolExecutor(attempts) as pool:
        outcomes = list(pool.map(lambda _: _attempt(db, "wrong password!"), range(attempts)))
    # Exactly the limit is checked against the hash; the rest are refused before it.
    assert outcomes.count("wrong") == MAX_FAILED_LOGINS, outcomes
    assert outcomes.count("locked") == attempts - MAX_FAILED_LOGINS, outcomes
    assert _attempt(db, PASSWORD) == "locked"  # even the right password, while locked
    unlock(db, "streets.staff")
    assert _attempt(db, PASSWORD) == "ok"


@pytest.mark.parametrize("wrong", [MAX_FAILED_LOGINS - 1])
def test_store_signin_right_password_resets_the_count(db, wrong):
    add_staff(db, "streets.staff", PASSWORD, ["streets"])
    for _ in range(wrong):
        assert _attempt(db, "wrong password!") == "wrong"
    assert _attempt(db, PASSWORD) == "ok"
    for _ in range(wrong):
        assert _attempt(db, "wrong password!") == "wrong"
    assert _attempt(db, PASSWORD) == "ok"


@pytest.mark.parametrize("time_cost", [6])
def test_store_signin_holds_no_connection_while_hashing(postgres_url, time_cost):
    """Before: the session (a pooled connection) stayed open across argon2's verify, so
    a burst of sign-ins used up the pool: 500s and other users' chat stalled."""
    from tests.conftest import _empty_database

    _empty_database(postgres_url).dispose()
    db = Database(postgres_url, pool_size=1, max_overflow=0, pool_timeout_s=30)
    try:
        add_staff(db, "streets.staff", PASSWORD, ["streets"])
        slow = PasswordHasher(time_cost=time_cost)
        with db.session() as session:  # a costlier hash: a verify takes long, measurably
            session.execute(update(StaffUser).values(password_hash=slow.hash(PASSWORD)))
        started = time.perf_counter()
        try:
            slow.verify(slow.hash(PASSWORD), "wrong password!")
        except Exception:  # noqa: BLE001 - the wrong password, as intended
            pass
        verify_s = (time.perf_counter() - started) / 2
        held: list[float] = []
        out: dict[int, float] = {}
        lock = threading.Lock()

        def checkout(_dbapi, record, _proxy):
            with lock:
                out[id(record)] = time.perf_counter()

        def checkin(_dbapi, record):
            with lock:
                if id(record) in out:
                    held.append(time.perf_counter() - out.pop(id(record)))

        event.listen(db.engine, "checkout", checkout)
        event.listen(db.engine, "checkin", checkin)
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda p: _attempt(db, p),
                                     ["wrong password!", "wrong again!", PASSWORD, "nope"]))
        assert sorted(outcomes) == ["ok", "wrong", "wrong", "wrong"]
        assert held and max(held) < verify_s / 2, (max(held), verify_s)
    finally:
        db.dispose()
