"""Custom actions on a separate rasa-sdk action server (`python -m rasa_sdk`)."""

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from bot.dialogue.story_test import load_stories, run_story
from tests.browser import wait_ready
from tests.conftest import ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    port = free_port()
    db_url = f"sqlite:///{tmp_path_factory.mktemp('actions')}/bot.sqlite3"
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "BPBOT_DATABASE_URL": db_url,
           "BPBOT_ROUTING_PATH": str(ROOT / "routing"), "BPBOT_ENVIRONMENT": "test"}
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p",
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc, seconds=60, path="/health")
    yield url, db_url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def remote_agent(action_server, project_settings, router):
    from bot.agent import Agent

    url, db_url = action_server
    settings = project_settings.model_copy(update={"action_endpoint": f"{url}/webhook",
                                                   "database_url": db_url})
    agent = Agent.load(settings, router=router)
    yield agent
    asyncio.run(agent.aclose())


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_action_server_runs_the_whole_conversation(remote_agent, language):
    story = load_stories([ROOT / "tests" / "stories" / f"stories_{language}.yml"])[0]
    assert story.name.startswith("greet, route, forward and submit")
    result = asyncio.run(run_story(remote_agent, story))
    assert result.passed, result.as_dict()


def test_action_server_unknown_action_is_a_clear_error(remote_agent):
    from bot.errors import ActionNotFoundError

    with pytest.raises(ActionNotFoundError, match="action_nope"):
        asyncio.run(remote_agent.runner.run("action_nope", "x", {"sender_id": "x"},
                                            remote_agent.domain.as_dict(), "d"))


def test_action_server_down_gets_a_polite_answer(project_settings, router):
    from bot.agent import Agent

    settings = project_settings.model_copy(update={
        "action_endpoint": f"http://127.0.0.1:{free_port()}/webhook"})
    agent = Agent.load(settings, router=router)
    replies = asyncio.run(agent.handle_message("down-1", "Miten haen terassilupaa?"))
    assert "virhe" in replies[-1]["text"]
    asyncio.run(agent.aclose())
