"""The model registry: every `bpbot train` makes a candidate, the database says which is live.

Candidates are the model folders under models/ (the folder name is the model id). Which
one is live is the newest row of the `model_promotion` table, so every server process and
every host agrees; with no promotion yet, the newest folder is used (a fresh install).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, select, text

from bot.errors import ModelNotFoundError
from bot.nlu.model import MANIFEST_FILE, newest_model
from bot.store.db import Database
from bot.store.models import ModelPromotion


@dataclass(frozen=True)
class ModelInfo:
    """One trained model folder."""

    model_id: str
    path: Path
    trained_at: str
    accuracy: dict[str, float]

    @classmethod
    def read(cls, path: Path) -> ModelInfo:
        """The facts of a model folder from its manifest."""
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        folds = (manifest.get("metrics") or {}).get("cross_validation") or {}
        accuracy = {lang: float(m.get("accuracy", 0.0)) for lang, m in folds.items()
                    if isinstance(m, dict) and lang != "all"}
        return cls(path.name, path, str(manifest.get("created") or ""), accuracy)


def models(models_dir: str | Path) -> list[ModelInfo]:
    """Every model folder, newest first."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    folders = [p.parent for p in root.glob(f"*/{MANIFEST_FILE}")]
    return [ModelInfo.read(p) for p in sorted(folders, key=lambda p: p.name, reverse=True)]


def promotions(db: Database) -> list[ModelPromotion]:
    """Every promotion, newest first."""
    with db.session() as session:
        return list(session.scalars(select(ModelPromotion).order_by(ModelPromotion.id.desc())))


def live_model_id(db: Database) -> str | None:
    """The id of the live model (None before the first promotion)."""
    with db.session() as session:
        return session.scalars(select(ModelPromotion.model_id)
                               .order_by(ModelPromotion.id.desc()).limit(1)).first()


def live_model_path(db: Database, models_dir: str | Path) -> Path:
    """The live model's folder; before any promotion, the newest folder.

    `models_dir` may also be one model's folder (a setting that pins the model).

    Raises:
        ModelNotFoundError: the recorded live model's folder is missing (copy it back, or
            promote another), or there is no model at all.
    """
    if (Path(models_dir) / MANIFEST_FILE).is_file():
        return Path(models_dir)  # one model folder given: that one
    live = live_model_id(db)
    if live is None:
        return newest_model(models_dir)
    path = Path(models_dir) / live
    if not (path / MANIFEST_FILE).is_file():
        raise ModelNotFoundError(path)
    return path


CHANNEL = "bpbot_model"  # PostgreSQL NOTIFY channel of promotions


def record_promotion(db: Database, model_id: str, *, forced: bool = False,
                     reason: str | None = None, report: dict[str, Any] | None = None) -> None:
    """Make `model_id` the live model (every process switches to it).

    On PostgreSQL the promotion is also announced (NOTIFY, on commit), so server processes
    that listen switch at once instead of at their next look.
    """
    previous = live_model_id(db)
    with db.session() as session:
        session.add(ModelPromotion(model_id=model_id, previous_model_id=previous,
                                   promoted_at=datetime.now(UTC), forced=forced,
                                   reason=reason, report=report))
        if db.dialect == "postgresql":
            session.execute(text("SELECT pg_notify(:channel, :model)"),
                            {"channel": CHANNEL, "model": model_id})


def listen_for_promotions(url: str, wake: Callable[[], None],
                          stop: threading.Event) -> None:
    """Call `wake` whenever a promotion is announced on PostgreSQL, until `stop` is set.

    Runs in a thread of its own with one connection of its own; the polling of the record
    stays as the fallback (a lost connection is opened again after a pause).
    """
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                while not stop.is_set():
                    for _ in connection.notifies(timeout=1.0, stop_after=1):
                        wake()
        except psycopg.Error:
            stop.wait(5.0)
