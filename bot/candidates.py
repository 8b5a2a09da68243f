"""A candidate model from the review inbox: train and gate in the background, with progress.

The job's state lives in the database (any server process shows it); the work runs in a
thread of the process that started it. One job at a time across every process and host: a
running job holds the unique `active` key, so of simultaneous starts exactly one INSERT
wins and the others show that job. The process running it renews the job's lease every
`heartbeat_s`; a job whose lease ran out (its process stopped: a kill, a crash, a restart)
is marked failed ("the process running it stopped") and no longer blocks a new one, within
LEASE_S. A process that lost its lease writes nothing more to the job and stops its work.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.constants import DEFAULT_DATA_PATH
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import CandidateJob

logger = logging.getLogger(__name__)
RUNNING = ("training", "evaluating")
# How long a job stays running without a heartbeat, and how often the heartbeat renews it.
LEASE_S = 90.0
HEARTBEAT_S = 15.0
STOPPED = "the process running it stopped"
# What the review inbox shows for a job whose process stopped, in the page's language.
STOPPED_TEXTS = {
    "fi": "Koulutusta ajanut palvelinprosessi pysähtyi (uudelleenkäynnistys tai kaatuminen). "
          "Aloita uusi koulutus.",
    "sv": "Serverprocessen som körde träningen stannade (omstart eller krasch). Starta en ny "
          "träning.",
    "en": "The server process running it stopped (a restart or a crash). Start a new one.",
}
_START_TRIES = 3


class LeaseLostError(RuntimeError):
    """The job's lease is no longer this process's: another process marked it failed."""


class Progress(Protocol):
    """What the work of a job reports through (see JobProgress)."""

    def update(self, **values: Any) -> None:
        """Set columns of the job (step, state, model_id)."""


Work = Callable[[Settings, Database, Progress], dict[str, Any]]


@dataclass(frozen=True)
class JobView:
    """A job as the review inbox shows it, its error in the page's language."""

    id: int
    state: str
    """training, evaluating, done or failed."""
    step: str | None
    model_id: str | None
    report: dict[str, Any] | None
    error: str | None


def _holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def expire(db: Database, now: float | None = None) -> int:
    """Mark running jobs whose lease ran out as failed (their process stopped); how many."""
    now = time.time() if now is None else now
    with db.session() as session:  # most page views: nothing to write (a read only)
        if session.scalar(select(CandidateJob.id).where(
                CandidateJob.active == 1, CandidateJob.lease_until < now)) is None:
            return 0
    with db.session() as session:  # a write first: SQLite waits for the lock, never fails
        return int(session.execute(
            update(CandidateJob).where(CandidateJob.active == 1,
                                       CandidateJob.lease_until < now)
            .values(state="failed", error=STOPPED, active=None, lease_until=None,
                    finished_at=datetime.now(UTC))).rowcount)  # type: ignore[attr-defined]


def latest(db: Database) -> CandidateJob | None:
    """The newest job (one whose process stopped is shown failed)."""
    expire(db)
    with db.session() as session:
        return session.scalars(select(CandidateJob).order_by(CandidateJob.id.desc())
                               .limit(1)).first()


def view(job: CandidateJob | None, language: str) -> JobView | None:
    """`job` for the review inbox page in `language` (fi, sv or en)."""
    if job is None:
        return None
    error = STOPPED_TEXTS.get(language, STOPPED_TEXTS["en"]) if job.error == STOPPED else job.error
    return JobView(job.id, job.state, job.step, job.model_id, job.report, error)


def _running(db: Database) -> CandidateJob | None:
    with db.session() as session:
        return session.scalars(select(CandidateJob).where(CandidateJob.active == 1)).first()


def start(db: Database, settings: Settings, staff: str | None, *, work: Work | None = None,
          lease_s: float = LEASE_S, heartbeat_s: float = HEARTBEAT_S) -> tuple[int, bool]:
    """Start a job unless one runs in any process; (its id, whether this call started it).

    `work(settings, db, progress)` trains and gates (default: `train_and_gate`) and returns
    the gate's report; it runs in a thread of this process, its lease renewed meanwhile.
    """
    for _ in range(_START_TRIES):
        expire(db)
        holder = _holder()
        try:
            with db.session() as session:
                job = CandidateJob(state="training", step="starting", started_by=staff,
                                   started_at=datetime.now(UTC), active=1, lease_holder=holder,
                                   lease_until=time.time() + lease_s)
                session.add(job)
                session.flush()
                job_id = job.id
        except IntegrityError:  # another start won: a job is running
            running = _running(db)
            if running is not None:
                return running.id, False
            continue  # it ended in between: try again
        threading.Thread(target=run, args=(db, settings, job_id, holder, work or train_and_gate,
                                           lease_s, heartbeat_s),
                         daemon=True, name=f"candidate-{job_id}").start()
        return job_id, True
    newest = latest(db)
    return (newest.id if newest else 0), False


class JobProgress:
    """Writes to one job while this process holds its lease."""

    def __init__(self, db: Database, job_id: int, holder: str) -> None:
        self.db, self.job_id, self.holder = db, job_id, holder

    def _write(self, **values: Any) -> bool:
        with self.db.session() as session:
            return bool(session.execute(
                update(CandidateJob).where(CandidateJob.id == self.job_id,
                                           CandidateJob.lease_holder == self.holder,
                                           CandidateJob.active == 1)
                .values(**values)).rowcount)  # type: ignore[attr-defined]

    def update(self, **values: Any) -> None:
        """Set columns of the job.

        Raises:
            LeaseLostError: when the job is no longer this process's (the work stops).
        """
        if not self._write(**values):
            raise LeaseLostError(f"candidate job {self.job_id} is no longer this process's")

    def renew(self, lease_s: float) -> bool:
        """Extend the lease by `lease_s` from now; False once it is lost."""
        return self._write(lease_until=time.time() + lease_s)

    def finish(self, **values: Any) -> bool:
        """The job's last state (done or failed): it stops blocking others."""
        return self._write(active=None, lease_until=None, finished_at=datetime.now(UTC),
                           **values)


def _heartbeat(progress: JobProgress, lease_s: float, every_s: float,
               stop: threading.Event) -> None:
    while not stop.wait(every_s):
        try:
            if not progress.renew(lease_s):
                return
        except Exception:  # noqa: BLE001 - the database may be back at the next beat
            logger.warning("Candidate job %s: the lease could not be renewed", progress.job_id,
                           exc_info=True)


def run(db: Database, settings: Settings, job_id: int, holder: str, work: Work,
        lease_s: float = LEASE_S, heartbeat_s: float = HEARTBEAT_S) -> None:
    """Do the job's work with its lease renewed; record done (the report) or failed."""
    progress = JobProgress(db, job_id, holder)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(progress, lease_s, heartbeat_s, stop),
                     daemon=True, name=f"candidate-{job_id}-lease").start()
    try:
        report = work(settings, db, progress)
        if not progress.finish(state="done", step=None, report=report):
            raise LeaseLostError(f"candidate job {job_id} is no longer this process's")
    except LeaseLostError:
        logger.warning("Candidate job %s was taken as stopped (its lease ran out); its "
                       "result is dropped", job_id)
    except Exception as exc:  # noqa: BLE001 - the page shows it; the log has the details
        logger.exception("Candidate job %s failed", job_id)
        progress.finish(state="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
    finally:
        stop.set()


def train_and_gate(settings: Settings, db: Database, progress: Progress) -> dict[str, Any]:
    """Train a candidate on the project's data, then compare it with the live model."""
    from bot.config import load_config
    from bot.gate import run_gate
    from bot.registry import live_model_id, models
    from bot.training import train_project

    def report(step: str, done: int, total: int) -> None:
        progress.update(step=f"{step} {done}/{total}" if total else step)

    path, _ = train_project(settings.config_path, [DEFAULT_DATA_PATH], settings.models_path,
                            report=report)
    progress.update(state="evaluating", step="the regression gate", model_id=path.name)
    live = live_model_id(db)
    found = {m.model_id: m.path for m in models(settings.models_path)}
    result = run_gate(path, found.get(live) if live else None, settings,
                      load_config(settings.config_path).gate)
    return result.as_dict()
