"""Candidate jobs: one at a time across threads and processes, leases that end with a process.

The lease logic is the real one; only the work (training and the gate) is a small stand-in
that waits, so no model is trained here (tests/test_review_inbox.py trains a real one).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select, update

from bot import candidates
from bot.store.db import Database
from bot.store.models import CandidateJob
from tests.conftest import ROOT

# A process that starts jobs from `threads` threads at once when told "go", prints what each
# start returned, and keeps its job running (a work that waits) until killed.
STARTER = r"""
import json, sys, threading, time
from bot import candidates
from bot.store.db import Database

url, threads, lease_s, heartbeat_s = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:5])
db = Database(url, create=False)
def work(settings, db, progress):
    time.sleep(3600)
    return {}
results = []
go = threading.Event()
def one(i):
    go.wait()
    results.append(candidates.start(db, None, f"p{i}", work=work, lease_s=lease_s,
                                    heartbeat_s=heartbeat_s))
started = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
for t in started:
    t.start()
print("ready", flush=True)
sys.stdin.readline()
go.set()
for t in started:
    t.join()
print(json.dumps(results), flush=True)
sys.stdin.readline()
"""


def _starter(url: str, threads: int, lease_s: float = 60.0, heartbeat_s: float = 0.2):
    process = subprocess.Popen(
        [sys.executable, "-c", STARTER, url, str(threads), str(lease_s), str(heartbeat_s)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == "ready"
    return process


def _stop(*processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class Waiting:
    """A stand-in for training and the gate: waits until released, counts its runs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs = 0

    def __call__(self, settings, db, progress) -> dict:
        self.runs += 1
        progress.update(step="training 1/2")
        assert self.release.wait(30)
        return {"passed": True, "table": "-", "reasons": []}


def _jobs(db) -> list[CandidateJob]:
    with db.session() as session:
        return list(session.scalars(select(CandidateJob).order_by(CandidateJob.id)))


def _until(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not within the time")


@pytest.mark.parametrize("engines", [2])
def test_candidates_ten_simultaneous_starts_on_two_engines_launch_one_job(db, engines):
    """Before: simultaneous starts each saw no running job and launched their own."""
    databases = [db] + [Database(db.url, create=False) for _ in range(engines - 1)]
    work = Waiting()
    barrier = threading.Barrier(10)
    results: list[tuple[int, bool]] = []

    def one(i: int) -> None:
        barrier.wait()
        results.append(candidates.start(databases[i % engines], None, f"staff{i}", work=work))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(started for _, started in results) == [False] * 9 + [True]
        assert len({job_id for job_id, _ in results}) == 1 and len(_jobs(db)) == 1
        _until(lambda: work.runs == 1)
        assert candidates.start(db, None, "later", work=work) == (results[0][0], False)
    finally:
        work.release.set()
        for other in databases[1:]:
            other.dispose()
    done = _until(lambda: [j for j in _jobs(db) if j.state == "done"])
    assert done[0].report == {"passed": True, "table": "-", "reasons": []}
    assert done[0].active is None and work.runs == 1
    later = Waiting()
    later.release.set()
    _, started = candidates.start(db, None, "next", work=later)  # the slot is free again
    assert started
    _until(lambda: all(j.state == "done" for j in _jobs(db)))


def test_candidates_ten_starts_from_two_processes_launch_one_job(db):
    """Before: ten simultaneous starts across two processes launched two trainings."""
    processes = [_starter(db.url, 5), _starter(db.url, 5)]
    try:
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [r for p in processes for r in json.loads(p.stdout.readline())]
        assert sorted(started for _, started in results) == [False] * 9 + [True]
        assert len({job_id for job_id, _ in results}) == 1
        jobs = _jobs(db)
        assert len(jobs) == 1 and jobs[0].state == "training" and jobs[0].active == 1
    finally:
        _stop(*processes)


def test_candidates_a_killed_process_lets_a_new_job_start_and_shows_failed(db):
    """Before: after a kill -9 the job stayed "training" and blocked new ones for an hour."""
    process = _starter(db.url, 1, lease_s=1.5, heartbeat_s=0.2)
    try:
        process.stdin.write("go\n")
        process.stdin.flush()
        [(job_id, started)] = json.loads(process.stdout.readline())
        assert started
        first = _jobs(db)[0].lease_until
        time.sleep(1.0)
        assert _jobs(db)[0].lease_until > first  # the heartbeat renews the lease
        assert candidates.start(db, None, "meanwhile", work=Waiting()) == (job_id, False)
    finally:
        _stop(process)  # SIGKILL: no clean-up runs in the process
    work = Waiting()
    try:
        new_id, started = _until(lambda: (r := candidates.start(
            db, None, "after", work=work))[1] and r, seconds=10)
        assert new_id != job_id
    finally:
        work.release.set()
    _until(lambda: _jobs(db)[-1].state == "done")
    old = next(j for j in _jobs(db) if j.id == job_id)
    assert old.state == "failed" and old.active is None and old.error == candidates.STOPPED
    texts = [candidates.view(old, lang).error for lang in ("fi", "sv", "en")]
    assert texts == [candidates.STOPPED_TEXTS[lang] for lang in ("fi", "sv", "en")]
    assert "pysähtyi" in texts[0] and "stannade" in texts[1] and "stopped" in texts[2]


def test_candidates_a_lease_in_the_past_shows_failed_and_drops_the_late_result(db):
    work = Waiting()
    job_id, _ = candidates.start(db, None, "first", work=work, heartbeat_s=3600)
    _until(lambda: work.runs == 1)
    with db.session() as session:
        session.execute(update(CandidateJob).values(lease_until=time.time() - 1))
    shown = candidates.latest(db)
    assert (shown.id, shown.state, shown.error) == (job_id, "failed", candidates.STOPPED)
    second = Waiting()
    try:
        second_id, started = candidates.start(db, None, "second", work=second)
        assert started and second_id != job_id
        work.release.set()  # the first job's work ends after all: its result is not recorded
        time.sleep(0.5)
        states = {j.id: j.state for j in _jobs(db)}
        assert states == {job_id: "failed", second_id: "training"}
    finally:
        work.release.set()
        second.release.set()
    _until(lambda: [j for j in _jobs(db) if j.id == second_id and j.state == "done"])


def test_candidates_work_that_fails_is_shown_and_frees_the_slot(db):
    def broken(settings, db, progress):
        raise RuntimeError("no data/nlu here")

    job_id, _ = candidates.start(db, None, "x", work=broken)
    failed = _until(lambda: [j for j in _jobs(db) if j.state == "failed"])[0]
    assert failed.id == job_id and failed.error == "RuntimeError: no data/nlu here"
    assert candidates.view(failed, "fi").error == "RuntimeError: no data/nlu here"
    work = Waiting()
    work.release.set()
    assert candidates.start(db, None, "y", work=work)[1]
    _until(lambda: _jobs(db)[-1].state == "done")


def test_candidates_a_job_left_running_by_an_older_release_is_failed_by_the_upgrade(tmp_path):
    """An older release renews no lease: its job left "training" must not stay so."""
    from alembic import command
    from sqlalchemy import text

    from bot.store.db import alembic_config

    database = Database(f"sqlite:///{tmp_path}/old.sqlite3", create=False)
    config = alembic_config(database.url)
    try:
        for revision, sql in (("0010", "INSERT INTO candidate_job (state, started_at) VALUES "
                                       "('training', '2026-12-01 10:00:00')"), ("head", None)):
            with database.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sql:
                    connection.execute(text(sql))
        [job] = _jobs(database)
        assert (job.state, job.error, job.active) == ("failed", candidates.STOPPED, None)
        assert candidates.start(database, None, "new", work=_done)[1]
        _until(lambda: _jobs(database)[-1].state == "done")
    finally:
        database.dispose()


def _done(settings, db, progress) -> dict:
    return {}
