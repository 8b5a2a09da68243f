"""deploy/backup.sh and deploy/restore.sh: a backup restores into a fresh PostgreSQL."""

import os
import shutil
import subprocess

import pytest
from sqlalchemy import select

from bot.store.db import Database, schema_revisions
from bot.store.enquiries import NewEnquiry, Notification, create_enquiry
from bot.store.models import Enquiry, OutboxMessage
from tests.conftest import ROOT, _empty_database
from tests.pg_server import ThrowawayPostgres


def rows(db, model):
    with db.session() as session:
        found = session.scalars(select(model).order_by(model.id)).all()
        return [{c.name: getattr(r, c.name) for c in model.__table__.columns} for r in found]


def script(name, *args, url, **env):
    return subprocess.run([str(ROOT / "deploy" / name), *map(str, args)], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "BPBOT_DATABASE_URL": url, **env})


@pytest.fixture()
def fresh_postgres():
    server = ThrowawayPostgres()
    url = server.start()
    yield url
    server.stop()


def test_a_backup_restores_into_a_fresh_postgresql_with_the_same_enquiries(
        postgres_url, fresh_postgres, tmp_path):
    source = _empty_database(postgres_url)
    for n, (lang, unit) in enumerate([("fi", "streets"), ("sv", "building-control"),
                                      ("en", "employment")]):
        create_enquiry(source, NewEnquiry(
            f"backup-{n}", lang, lang, "terrace_permit", 0.9, unit, "unit@example.fi",
            "Maija Meikäläinen", "Kahvila Åkerö Oy", "3416721-2", "maija@kahvila.example.fi",
            None, "2026-12", f"Terassilupa kahvilalle {n} – ÅÄÖ", [
                {"from": "customer", "text": "Terassilupa"}]),
            [Notification("email", "unit@example.fi", "Aihe", "Viesti")])
    enquiries, outbox = rows(source, Enquiry), rows(source, OutboxMessage)
    source.dispose()

    # The password travels in PGPASSWORD, never on a command line (any local user reads
    # those): the PostgreSQL tools are wrapped here to record their arguments.
    shims = tmp_path / "shims"
    shims.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        real = shutil.which(tool)
        (shims / tool).write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/argv.log\n'
                                  f'exec {real} "$@"\n')
        (shims / tool).chmod(0o755)
    path = f"{shims}:{os.environ['PATH']}"
    with_password = postgres_url.replace("bpbot@", "bpbot:not-on-the-command-line@")
    made = script("backup.sh", tmp_path / "backups", url=with_password, PATH=path)
    assert made.returncode == 0, made.stderr
    dump = made.stdout.strip().splitlines()[-1]
    assert os.path.basename(dump).startswith("bpbot-") and dump.endswith(".dump")
    assert oct(os.stat(dump).st_mode & 0o777) == "0o600"  # personal data

    restored = script("restore.sh", dump, PATH=path,
                      url=fresh_postgres.replace("bpbot@", "bpbot:not-on-the-command-line@"))
    assert restored.returncode == 0, restored.stderr
    logged = (tmp_path / "argv.log").read_text()
    assert "pg_restore" not in logged and "--format=custom" in logged and (
        "not-on-the-command-line" not in logged)
    target = Database(fresh_postgres, create=False)
    try:
        current, head = schema_revisions(target.engine)
        assert current == head
        assert rows(target, Enquiry) == enquiries and len(enquiries) == 3
        assert rows(target, OutboxMessage) == outbox
    finally:
        target.dispose()
    # Restoring over a database that holds tables needs --replace.
    again = script("restore.sh", dump, url=fresh_postgres)
    assert again.returncode == 2 and "--replace" in again.stderr
    assert script("restore.sh", dump, "--replace", url=fresh_postgres).returncode == 0


def test_backup_refuses_a_sqlite_url_and_restore_a_missing_file(tmp_path):
    refused = script("backup.sh", tmp_path, url=f"sqlite:///{tmp_path}/x.sqlite3")
    assert refused.returncode == 2 and "PostgreSQL" in refused.stderr
    missing = script("restore.sh", tmp_path / "none.dump", url="postgresql://x@127.0.0.1/x")
    assert missing.returncode == 2 and "backup file" in missing.stderr
