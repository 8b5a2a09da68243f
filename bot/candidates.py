"""A candidate model from the review inbox: train and gate in the background, with progress.

The job's state lives in the database (any server process shows it); the work runs in a
thread of the process that started it. One job at a time: a second start while one runs
shows the running one. A job older than STALE_AFTER that never finished (its process
died) no longer blocks a new one.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.constants import DEFAULT_DATA_PATH
from bot.settings import Settings
from bot.store.db import Database
from bot.store.models import CandidateJob

logger = logging.getLogger(__name__)
RUNNING = ("training", "evaluating")
STALE_AFTER = timedelta(hours=1)


def latest(db: Database) -> CandidateJob | None:
    """The newest job."""
    with db.session() as session:
        return session.scalars(select(CandidateJob).order_by(CandidateJob.id.desc())
                               .limit(1)).first()


def start(db: Database, settings: Settings, staff: str | None) -> tuple[int, bool]:
    """Start a job unless one runs; (its id, whether this call started it)."""
    now = datetime.now(UTC)
    with db.session() as session:
        running = session.scalars(select(CandidateJob).where(
            CandidateJob.state.in_(RUNNING)).order_by(CandidateJob.id.desc())).first()
        if running is not None and _aware(running.started_at) > now - STALE_AFTER:
            return running.id, False
        job = CandidateJob(state="training", step="starting", started_by=staff,
                           started_at=now)
        session.add(job)
        session.flush()
        job_id = job.id
    threading.Thread(target=run, args=(db, settings, job_id), daemon=True,
                     name=f"candidate-{job_id}").start()
    return job_id, True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _set(db: Database, job_id: int, **values: object) -> None:
    with db.session() as session:
        session.execute(update(CandidateJob).where(CandidateJob.id == job_id).values(**values))


def run(db: Database, settings: Settings, job_id: int) -> None:
    """Train a candidate on the project's data, then compare it with the live model."""
    from bot.config import load_config
    from bot.gate import run_gate
    from bot.registry import live_model_id, models
    from bot.training import train_project

    def report(step: str, done: int, total: int) -> None:
        _set(db, job_id, step=f"{step} {done}/{total}" if total else step)

    try:
        path, _ = train_project(settings.config_path, [DEFAULT_DATA_PATH],
                                settings.models_path, report=report)
        _set(db, job_id, state="evaluating", step="the regression gate", model_id=path.name)
        live = live_model_id(db)
        found = {m.model_id: m.path for m in models(settings.models_path)}
        result = run_gate(path, found.get(live) if live else None, settings,
                          load_config(settings.config_path).gate)
        _set(db, job_id, state="done", step=None, report=result.as_dict(),
             finished_at=datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - the page shows it; the log has the details
        logger.exception("Candidate job %s failed", job_id)
        _set(db, job_id, state="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
             finished_at=datetime.now(UTC))
