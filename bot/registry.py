"""The model registry: every `bpbot train` makes a candidate, the database says which is live.

Candidates are the model folders under models/ (the folder name is the model id). Which
one is live is the newest row of the `model_promotion` table, so every server process and
every host agrees. Each promotion records the digest of the folder's files; a server loads
a folder only while it matches. Before the first promotion nothing is live: a model is
loaded only when one is named (`--model DIR`, or `BPBOT_MODELS_PATH` set to one model's
folder).

The history is a stack: a promotion puts a model on top, a rollback takes the top off and
makes the one below live again (recorded as a row of its own, marked as a rollback).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import make_url, select, text

from bot.errors import (
    BotError,
    InvalidModelError,
    ModelDigestError,
    ModelNotFoundError,
    NoLiveModelError,
    PromotionError,
)
from bot.nlu.model import MANIFEST_FILE, check_model, manifest_or_none
from bot.store.db import Database
from bot.store.models import ModelPromotion

T = TypeVar("T")
logger = logging.getLogger(__name__)
#: The most bytes and files a model folder may have for its digest to be taken (the
#: project's model: 10 MB in 3 files).
MAX_FOLDER_BYTES = 1024 * 2**20
MAX_FOLDER_FILES = 64
_CHUNK = 2**20


@dataclass(frozen=True)
class ModelInfo:
    """One trained model folder."""

    model_id: str
    path: Path
    trained_at: str
    accuracy: dict[str, float]

    @classmethod
    def read(cls, path: Path) -> ModelInfo:
        """The facts of a model folder from its manifest (an unreadable one: none)."""
        manifest = manifest_or_none(path) or {}
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


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """The folder's files (relative name, path), in a stable order; refuses other kinds."""
    for directory, subdirectories, names in os.walk(folder):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if not path.is_file():  # a FIFO would block the reader, a dangling link ...
                raise InvalidModelError(folder, f"'{path.relative_to(folder)}' is not a "
                                                "regular file")
            yield path.relative_to(folder).as_posix(), path


def folder_digest(folder: str | Path) -> str:
    """sha256 over the folder's files: each one's name, size and contents, by name.

    Raises:
        ModelNotFoundError: when the folder holds no model.
        InvalidModelError: when it holds something a model never does (other kinds of
            file, more than `MAX_FOLDER_FILES` files or `MAX_FOLDER_BYTES` bytes).
    """
    folder = Path(folder)
    if not (folder / MANIFEST_FILE).is_file():
        raise ModelNotFoundError(folder)
    files = list(_files(folder))
    sizes = [path.stat().st_size for _, path in files]
    if len(files) > MAX_FOLDER_FILES or sum(sizes) > MAX_FOLDER_BYTES:
        raise InvalidModelError(folder, f"{len(files)} files of {sum(sizes)} bytes (a model "
                                        f"has at most {MAX_FOLDER_FILES} files of "
                                        f"{MAX_FOLDER_BYTES} bytes)")
    digest = hashlib.sha256()
    for (name, path), size in zip(files, sizes, strict=True):
        digest.update(f"{len(name)}:{name}\0{size}\0".encode())
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def folder_state(folder: Path) -> tuple[tuple[str, int, int], ...] | None:
    """A cheap mark of the folder's files (names, sizes, times): None when it is gone."""
    try:
        return tuple((name, path.stat().st_size, path.stat().st_mtime_ns)
                     for name, path in _files(folder)) if folder.is_dir() else None
    except (OSError, BotError):
        return None


def model_folder(models_dir: str | Path, model_id: str) -> Path:
    """The folder of `model_id` under `models_dir`.

    Raises:
        ModelNotFoundError: an id that is not a plain folder name ("../x").
    """
    if not model_id or model_id in (".", "..") or "/" in model_id or "\\" in model_id:
        raise ModelNotFoundError(Path(models_dir) / model_id)
    return Path(models_dir) / model_id


def verify_model(models_dir: str | Path, model_id: str, digest: str | None = None, *,
                 require_digest: bool = False) -> tuple[Path, str]:
    """The folder of `model_id` and its digest, once it is a model that would load.

    With `digest` (the recorded one), the folder's must be the same; `require_digest`:
    a promotion recorded without one (before this version) is refused too.

    Raises:
        ModelNotFoundError: the folder (or its manifest) is gone.
        ModelDigestError: the folder is not the one recorded.
        InvalidModelError: it would not load (format, arrays, files).
    """
    path = model_folder(models_dir, model_id)
    found = folder_digest(path)
    if (digest is not None and found != digest) or (digest is None and require_digest):
        raise ModelDigestError(path, digest, found)
    check_model(path)
    return path, found


def pinned_model(models_dir: str | Path) -> Path | None:
    """`models_dir` itself when it is one model's folder (a setting that pins the model)."""
    path = Path(models_dir)
    return path if (path / MANIFEST_FILE).is_file() else None


def promotions(db: Database) -> list[ModelPromotion]:
    """Every promotion, newest first."""
    with db.session() as session:
        return list(session.scalars(select(ModelPromotion).order_by(ModelPromotion.id.desc())))


def live_promotion(db: Database) -> ModelPromotion | None:
    """The newest promotion: the live model (None before the first promotion)."""
    with db.session() as session:
        return session.scalars(select(ModelPromotion)
                               .order_by(ModelPromotion.id.desc()).limit(1)).first()


def live_model_id(db: Database) -> str | None:
    """The id of the live model (None before the first promotion)."""
    live = live_promotion(db)
    return live.model_id if live else None


def history(rows: list[ModelPromotion]) -> list[ModelPromotion]:
    """The stack of live models, oldest first, from the promotions (oldest first).

    A promotion goes on top (one of the top model again replaces it: a digest recorded
    anew); a rollback takes the top off and stands for the model below. The top is always
    the newest row. A rollback that matches no model below (recorded by an older version,
    which toggled) stands on top of what remains.
    """
    stack: list[ModelPromotion] = []
    for row in rows:
        if row.rollback and stack:
            stack.pop()
        if stack and stack[-1].model_id == row.model_id:
            stack[-1] = row
        else:
            stack.append(row)
    return stack


def live_history(db: Database) -> list[ModelPromotion]:
    """The live model first, then the ones a rollback would go back to, in turn."""
    return history(promotions(db)[::-1])[::-1]


CHANNEL = "bpbot_model"  # PostgreSQL NOTIFY channel of promotions


def record_promotion(db: Database, model_id: str, *, digest: str | None = None,
                     rollback: bool = False, forced: bool = False, reason: str | None = None,
                     report: dict[str, Any] | None = None) -> ModelPromotion:
    """Make `model_id` live (every process switches to it): the row as written.

    `digest`: of the folder as checked (`verify_model`); servers load nothing else. On
    PostgreSQL the promotion is also announced (NOTIFY, on commit), so server processes
    that listen switch at once instead of at their next look.
    """
    previous = live_model_id(db)
    row = ModelPromotion(model_id=model_id, previous_model_id=previous,
                         promoted_at=datetime.now(UTC), forced=forced, reason=reason,
                         report=report, digest=digest, rollback=rollback)
    with db.session() as session:
        session.add(row)
        if db.dialect == "postgresql":
            session.execute(text("SELECT pg_notify(:channel, :model)"),
                            {"channel": CHANNEL, "model": model_id})
        session.flush()
    return row


def promotable(models_dir: str | Path, model_id: str) -> tuple[Path, str]:
    """The folder and digest of a candidate that may be promoted.

    Raises:
        PromotionError: the folder is gone, or the model would not load.
    """
    try:
        return verify_model(models_dir, model_id)
    except BotError as exc:
        raise PromotionError(f"'{model_id}' cannot be promoted: {exc.message}") from exc


def renew_live(db: Database, live: ModelPromotion, digest: str) -> bool:
    """The live model promoted again: record its digest when it has none (True).

    False: it is recorded already, with this digest.

    Raises:
        PromotionError: its folder is not the one promoted (a changed folder is a new
            candidate: train or copy it under a new id).
    """
    if live.digest == digest:
        return False
    if live.digest is not None:
        raise PromotionError(
            f"'{live.model_id}' is live, but its folder changed since its promotion (sha256 "
            f"{digest[:12]}..., recorded {live.digest[:12]}...). Copy the promoted folder "
            "back, or promote the changed model under a new id.")
    record_promotion(db, live.model_id, digest=digest,
                     reason="digest recorded (promoted before digests were)")
    return True


def adopt_live_digest(db: Database, models_dir: str | Path) -> str | None:
    """Record the digest of a live model promoted before digests were (after an upgrade).

    Servers load only a promoted folder whose digest is recorded; `bpbot db upgrade` calls
    this so that an upgraded installation goes on serving the model it served. Returns the
    model id whose digest was recorded, or None when there was nothing to record (no
    promotion, a digest already there, or the folder gone or unloadable: then servers
    start on the last loadable promotion, as after any broken promotion).
    """
    live = live_promotion(db)
    if live is None or live.digest is not None:
        return None
    try:
        _, digest = verify_model(models_dir, live.model_id)
    except BotError:
        return None
    return live.model_id if renew_live(db, live, digest) else None


def rollback(db: Database, models_dir: str | Path, reason: str | None = None
             ) -> ModelPromotion:
    """Make the model live before the current one live again: the rollback's row.

    Raises:
        PromotionError: nothing earlier, or the earlier model's folder is gone, changed
            since its promotion, or would not load.
    """
    stack = live_history(db)
    if len(stack) < 2:
        raise PromotionError(
            "There is no earlier live model to go back to"
            + (f" ({stack[0].model_id} was the first promoted)." if stack else ".")
            + " Promote another with `bpbot models promote ID`.")
    current, back = stack[0], stack[1]
    try:
        _, digest = verify_model(models_dir, back.model_id, back.digest)
    except BotError as exc:
        raise PromotionError(f"Cannot roll back from {current.model_id} to "
                             f"{back.model_id}: {exc.message}") from exc
    return record_promotion(db, back.model_id, digest=digest, rollback=True,
                            reason=reason or "no reason given")


@dataclass
class LiveLoad(Generic[T]):
    """What `load_live` loaded, from which promotion, and what it passed over."""

    loaded: T
    promotion: ModelPromotion | None  # None: the pinned folder (no registry)
    path: Path
    #: The newer promotions that could not be loaded, newest first, and why.
    skipped: list[tuple[ModelPromotion, str]] = field(default_factory=list)


def load_live(db: Database, models_dir: str | Path, load: Callable[[Path], T], *,
              log: bool = True) -> LiveLoad[T]:
    """Load the live model with `load`; when it cannot be, the last promoted one that can.

    A pinned folder (`models_dir` is one model's folder) is loaded as it is. Otherwise the
    history is walked back from the live model: each folder must match its recorded
    digest and load. Passing over a model is logged (a warning each) when `log`.

    Raises:
        NoLiveModelError: nothing promoted, or no promoted model loads.
        BotError: the pinned folder does not load.
    """
    pinned = pinned_model(models_dir)
    if pinned is not None:
        return LiveLoad(load(pinned), None, pinned)
    skipped: list[tuple[ModelPromotion, str]] = []
    for row in live_history(db):
        try:
            path, _ = verify_model(models_dir, row.model_id, row.digest, require_digest=True)
            loaded = load(path)
        except (BotError, OSError, ValueError) as exc:
            skipped.append((row, exc.message if isinstance(exc, BotError) else str(exc)))
            continue
        for passed, why in skipped if log else []:
            logger.warning("Started with model %s (promoted %s) instead of %s, which cannot "
                           "be loaded: %s", row.model_id, row.promoted_at, passed.model_id,
                           why)
        return LiveLoad(loaded, row, path, skipped)
    raise NoLiveModelError(models_dir, [f"{row.model_id}: {why}" for row, why in skipped])


def check_startable(db: Database, models_dir: str | Path) -> Path:
    """The folder a server would start with, checked without loading (for preflight).

    Raises:
        NoLiveModelError: nothing promoted, or no promoted model would load.
        BotError: the pinned folder would not load.
    """
    def check(path: Path) -> Path:
        check_model(path)
        return path

    return load_live(db, models_dir, check, log=False).loaded


def live_model_path(db: Database, models_dir: str | Path) -> Path:
    """The live model's folder, checked against its recorded digest.

    `models_dir` may also be one model's folder (a setting that pins the model).

    Raises:
        NoLiveModelError: nothing has been promoted (and no folder pinned).
        ModelNotFoundError: the live model's folder is missing (copy it back, or promote
            another).
        ModelDigestError: its files are not the ones promoted.
        InvalidModelError: it would not load.
    """
    pinned = pinned_model(models_dir)
    if pinned is not None:
        return pinned
    live = live_promotion(db)
    if live is None:
        raise NoLiveModelError(models_dir)
    return verify_model(models_dir, live.model_id, live.digest, require_digest=True)[0]


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
