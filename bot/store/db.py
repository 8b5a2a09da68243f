"""Engine, sessions and migrations for the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SchemaOutdatedError, StoreUnavailableError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL: durable across process crashes (the restart tests); only
    # a power loss can lose the last commits. FULL fsyncs every turn (~2.5 ms each).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 8, max_overflow: int = 4,
                pool_timeout_s: float = 5.0) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    A PostgreSQL pool that has no connection free within `pool_timeout_s` raises
    sqlalchemy.exc.TimeoutError (the server answers 503 with Retry-After).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=max_overflow, pool_timeout=pool_timeout_s)


def alembic_config(url: str) -> object:
    """Alembic's Config for this project's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration (safe to call every start)."""
    from alembic import command

    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as connection:
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.upgrade(config, "head")  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _scripts() -> Any:
    """The migrations of this version (read once a process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(the database's schema revision or None for an empty database, the newest one)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, str(_scripts().get_current_head())


def newer_schema_error(engine: Engine, current: str, head: str) -> SchemaOutdatedError | None:
    """The error for a `current` revision this version does not know, else None.

    Such a revision comes from a later release that upgraded the database.
    """
    from alembic.util import CommandError

    try:
        if _scripts().get_revision(current) is not None:
            return None
    except CommandError:
        pass
    where = engine.url.render_as_string(hide_password=True)
    return SchemaOutdatedError(
        f"The database {where} is at revision {current}, newer than this version knows (its "
        f"newest is {head}): it was upgraded by a later release. Run that release, or "
        "restore the backup taken before its upgrade.")


def check_schema(engine: Engine) -> None:
    """Raise unless the schema is at the newest revision.

    Raises:
        SchemaOutdatedError: naming both revisions and the command that upgrades.
    """
    current, head = schema_revisions(engine)
    if current != head:
        if current is not None and (newer := newer_schema_error(engine, current, head)):
            raise newer
        where = engine.url.render_as_string(hide_password=True)
        found = f"at revision {current}" if current else "empty (no tables yet)"
        raise SchemaOutdatedError(
            f"The database {where} is {found}; this version needs revision {head}. Run "
            "`bpbot db upgrade` once (after a backup), then start the servers.")


class Database:
    """An engine and a session factory."""

    @classmethod
    def from_settings(cls, settings: Any, *, create: bool | None = None) -> Database:
        """The database of `settings` with its pool sized from them.

        `create` (default: `settings.migrates_on_start`) brings the schema up to date;
        without it the schema must be up to date already.

        Raises:
            SchemaOutdatedError: when it is not (production: run `bpbot db upgrade`).
        """
        create = settings.migrates_on_start if create is None else create
        database = cls(settings.database_url, create=create, pool_size=settings.db_pool_size,
                       max_overflow=settings.db_max_overflow,
                       pool_timeout_s=settings.db_pool_timeout_s)
        if not create:
            try:
                check_schema(database.engine)
            except BaseException:
                database.dispose()
                raise
        return database

    def __init__(self, url: str, *, create: bool = True, pool_size: int = 8,
                 max_overflow: int = 4, pool_timeout_s: float = 5.0) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                                  pool_timeout_s=pool_timeout_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            migrate(self.engine)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def check_writable(db: Database) -> None:
    """Write and commit one row (a counter): what every message needs.

    Raises:
        StoreUnavailableError: naming the database and the cause (read-only, full, down).
    """
    from bot.store import limits

    try:
        limits.hit(db, [("health:write-probe", 1 << 30)])
    except DBAPIError as exc:
        raise StoreUnavailableError(unavailable_message(db.url, exc)) from exc


def unavailable_message(url: str, exc: BaseException) -> str:
    """One line: which database (no password), what failed, what to do."""
    cause = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["unknown"])[0]
    where = make_url(url).render_as_string(hide_password=True)
    return (f"The database {where} cannot be written or reached ({cause}). Check that it "
            "runs, that its disk has space and that this process may write to it.")
