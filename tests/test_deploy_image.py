"""deploy/Dockerfile built with podman on a Debian base and run against PostgreSQL.

The base image comes from Debian's package archive (no registry), the build uses the
host's network and pip settings (tests/podman.py). The container runs with the host's
network against the throwaway PostgreSQL on 127.0.0.1, as the city would run it: the
settings file of production, `bpbot db upgrade`, `bpbot models promote --first`, then
`bpbot serve` as the image's non-root user, and a conversation of several turns.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.browser import free_port
from tests.podman import (
    EMBEDDINGS_FILE,
    announce,
    app_image,
    podman,
    remove_labelled,
    require_podman,
    wait_for,
)

pytestmark = pytest.mark.slow

#: Turns of one conversation (Finnish): greeting, a need routed to a unit, accepting the
#: offer to forward it; what each reply says in part.
TURNS = [("Hei", "Business Porvoon digitaalinen avustaja"),
         ("Haluaisin hakea terassilupaa kahvilallemme tänä kesänä", ""),
         ("kyllä", "Mikä on nimesi?")]


@pytest.fixture(scope="module")
def image(request) -> str:
    """The app image, its model trained with the embeddings `trained_model` cached."""
    require_podman()
    request.getfixturevalue("trained_model")  # once podman is known to run here
    built = app_image()
    announce(request)
    return built


def production_env_file(path: Path, database_url: str | None, **settings: str) -> Path:
    """A settings file like deploy/bpbot.env.example's, with fresh secrets."""
    values = {"BPBOT_ENVIRONMENT": "production",
              **({"BPBOT_DATABASE_URL": database_url} if database_url else {}),
              "BPBOT_SESSION_SECRET": secrets.token_urlsafe(48),
              "BPBOT_WEBHOOK_SECRET": secrets.token_urlsafe(48),
              "BPBOT_ADMIN_TOKEN": secrets.token_urlsafe(48),
              "BPBOT_PUBLIC_URL": "https://bot.example.fi",
              "BPBOT_TRUSTED_PROXIES": '["127.0.0.1"]', "BPBOT_OUTBOX_INTERVAL_S": "0",
              "BPBOT_LOG_FORMAT": "json", **settings}
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    return path


def drop_schema(url: str) -> None:
    """An empty database: the container's `bpbot db upgrade` makes every table."""
    from bot.store.db import make_engine
    from bot.store.models import Base

    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def chat(base_url: str, sender: str, **client: object) -> list[list[dict]]:
    """TURNS under one sender id, the conversation's token sent back on every later turn."""
    replies = []
    headers: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=60, **client) as web:  # type: ignore[arg-type]
        for message, expected in TURNS:
            reply = web.post("/webhooks/rest/webhook", headers=headers,
                             json={"sender": sender, "message": message})
            assert reply.status_code == 200, (message, reply.status_code, reply.text)
            if not headers:  # the first reply gives the conversation its token
                headers = {"X-Conversation-Token": reply.headers["X-Conversation-Token"]}
            texts = " ".join(m.get("text", "") for m in reply.json())
            assert texts and expected in texts, (message, texts)
            replies.append(reply.json())
    return replies


def logs(name: str) -> str:
    result = podman("logs", "--tail", "40", name, check=False)
    return result.stdout + result.stderr


def test_deploy_image_upgrades_promotes_and_chats_as_non_root(image, postgres_url, tmp_path):
    drop_schema(postgres_url)
    env_file = production_env_file(tmp_path / "bpbot.env", postgres_url)
    port = free_port()
    label = f"bpbot.test=image-{port}"
    run = ["run", "--network", "host", "--label", label, "--env-file", str(env_file)]
    try:
        for command in (["bpbot", "db", "upgrade"], ["bpbot", "models", "promote", "--first"]):
            result = podman(*run, "--rm", image, *command, timeout=300, check=False)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
        name = f"bpbot-image-test-{port}"
        podman(*run, "-d", "--name", name, image, "bpbot", "serve", "--host", "127.0.0.1",
               "--port", str(port))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 180, "the container's /readyz did not answer 200",
                 lambda: logs(name))
        assert podman("exec", name, "id", "-u").stdout.strip() not in {"", "0"}
        chat(url, f"image-{port}")
    finally:
        remove_labelled(label)
    assert not podman("ps", "-aq", "--filter", f"label={label}").stdout.strip()


def test_deploy_image_has_no_compiler_or_package_or_embedding_caches(image):
    found = podman("run", "--rm", "--network", "none", image, "sh", "-c",
                   "command -v gcc cc; ls /var/lib/apt/lists | grep -v lock; "
                   "ls /root/.cache 2>/dev/null; ls -A /var/cache/bpbot; ls -A /mnt; "
                   f"find / -xdev -name '{EMBEDDINGS_FILE}*'; id -un",
                   check=False)
    assert found.stdout.split() == ["bpbot"], found.stdout


def test_deploy_image_model_is_trained_as_on_the_host_from_the_sessions_embeddings(
        image, trained_model):
    """The image's model has the session model's format and manifest, and embedded nothing.

    The build was given the session's embedding cache: looking up every training text took
    0.03 s on two cores, embedding them there 42 s (a 16-core machine: about 7 s).
    """
    found = podman("run", "--rm", "--network", "none", image, "sh", "-c",
                   "cat /opt/bpbot/models/*/manifest.json")
    built = json.loads(found.stdout)
    host = trained_model.manifest
    assert built.keys() - {"model_id"} == host.keys() - {"model_id"}  # saved: its folder
    for key in ("format", "data_fingerprint", "embedder", "intents", "languages", "examples"):
        assert built[key] == host[key], key
    assert built["metrics"]["cross_validation"].keys() == host["metrics"][
        "cross_validation"].keys()
    assert built["embedding_time_s"] < 3, (
        f"the build embedded the training texts again ({built['embedding_time_s']} s)")


def test_deploy_image_build_passes_only_reachable_pip_settings():
    from tests.podman import pip_build_options

    options = pip_build_options()
    assert not any("file://" in option for option in options), options
    for option in options:
        if option.startswith("id=pip_cert,src="):
            assert Path(option.split("src=", 1)[1]).is_file()
