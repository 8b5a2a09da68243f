"""Production does not migrate at start: `bpbot db upgrade` does, once per release."""

import os
import subprocess
import sys

from sqlalchemy import inspect

from bot.store.db import Database, alembic_config, schema_revisions
from tests.conftest import ROOT, _empty_database

PRODUCTION = {"BPBOT_ENVIRONMENT": "production", "BPBOT_WEBHOOK_SECRET": "w" * 32,
              "BPBOT_SESSION_SECRET": "s" * 32, "HF_HUB_OFFLINE": "1"}


def bpbot(*args, env_update):
    env = {**os.environ, **env_update}
    exe = os.path.join(os.path.dirname(sys.executable), "bpbot")
    return subprocess.run([exe, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_refuses_an_outdated_schema_until_bpbot_db_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path}/prod.sqlite3"
    env = {**PRODUCTION, "BPBOT_DATABASE_URL": url}
    served = bpbot("serve", "--port", "1", env_update=env)
    assert served.returncode == 2
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1 and "bpbot db upgrade" in lines[0], served.stderr
    assert "empty (no tables yet)" in lines[0]
    # Nothing was created behind the operator's back.
    assert inspect(Database(url, create=False).engine).get_table_names() == []
    listed = bpbot("staff", "list", env_update=env)
    assert listed.returncode == 2 and "bpbot db upgrade" in listed.stderr

    status = bpbot("db", "status", env_update=env)
    assert status.returncode == 1 and "database: empty" in status.stdout
    upgraded = bpbot("db", "upgrade", env_update=env)
    assert upgraded.returncode == 0 and "Upgraded the schema from an empty database" in (
        upgraded.stdout)
    assert bpbot("db", "status", env_update=env).returncode == 0
    again = bpbot("db", "upgrade", env_update=env)
    assert "up to date" in again.stdout
    assert bpbot("staff", "list", env_update=env).returncode == 0


def test_upgrade_from_an_older_release_on_postgresql(postgres_url):
    from alembic import command

    db = _empty_database(postgres_url)
    try:
        config = alembic_config(postgres_url)
        with db.engine.begin() as connection:  # as an older release left it
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert schema_revisions(db.engine)[0] == "0005"
        env = {**PRODUCTION, "BPBOT_DATABASE_URL": postgres_url}
        refused = bpbot("serve", "--port", "1", env_update=env)
        assert refused.returncode == 2 and "at revision 0005" in refused.stderr
        upgraded = bpbot("db", "upgrade", env_update=env)
        assert upgraded.returncode == 0, upgraded.stderr
        current, head = schema_revisions(db.engine)
        assert current == head and "from 0005 to revision" in upgraded.stdout
    finally:
        db.dispose()


def test_development_still_migrates_at_start(tmp_path):
    from bot.settings import Settings

    url = f"sqlite:///{tmp_path}/dev.sqlite3"
    db = Database.from_settings(Settings(environment="development", database_url=url))
    current, head = schema_revisions(db.engine)
    db.dispose()
    assert current == head


def test_a_schema_newer_than_this_version_is_named_as_such(tmp_path):
    """After a rollback: not "run bpbot db upgrade" (which would fail in alembic)."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path}/newer.sqlite3"
    db = Database(url)  # at head
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    db.dispose()
    env = {**PRODUCTION, "BPBOT_DATABASE_URL": url}
    served = bpbot("serve", "--port", "1", env_update=env)
    assert served.returncode == 2 and "newer than this version knows" in served.stderr
    upgraded = bpbot("db", "upgrade", env_update=env)
    assert upgraded.returncode == 2 and "newer than this version knows" in upgraded.stderr


def test_upgrade_records_the_digest_of_a_model_promoted_before_digests(tmp_path,
                                                                       trained_model_dir):
    """Before: after the upgrade to schema 0010 no server would load the live model."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    from bot.registry import live_model_path, live_promotion

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    db = Database(url)
    config = alembic_config(url)
    with db.engine.begin() as connection:  # an installation of the release before
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
        connection.execute(text(
            "INSERT INTO model_promotion (model_id, previous_model_id, promoted_at, forced) "
            "VALUES (:model, NULL, :now, false)"), {"model": trained_model_dir.name,
                                                    "now": datetime.now(UTC)})
    env = {**PRODUCTION, "BPBOT_DATABASE_URL": url,
           "BPBOT_MODELS_PATH": str(trained_model_dir.parent)}
    upgraded = bpbot("db", "upgrade", env_update=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"Recorded the digest of the live model '{trained_model_dir.name}'" in (
        upgraded.stdout)
    assert live_promotion(db).digest
    assert live_model_path(db, trained_model_dir.parent) == trained_model_dir
    again = bpbot("db", "upgrade", env_update=env)
    assert "Recorded" not in again.stdout
    db.dispose()
