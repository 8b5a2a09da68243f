"""The model registry: candidates, the regression gate, promotion, rollback, the live swap."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from functools import partial

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.browser import free_port, wait_ready
from tests.chat import keeping_tokens
from tests.conftest import ROOT, _empty_database

GATE_WITHOUT_STORIES = """
gate:
  max_right_drop: 1.0
  max_wrong_gain: 0.5
  stories_must_pass: true
  heldout: [{heldout}]
  stories: []
"""


def copy_model(source, models_dir, model_id):
    """The same model under another id (a candidate that is as good as the live one)."""
    target = models_dir / model_id
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["model_id"] = model_id
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture()
def half_model(project_config, training_data, tmp_path_factory):
    """A deliberately worse candidate: trained on every other example."""
    import copy

    from bot.nlu.model import train

    half = copy.copy(training_data)
    half.examples = training_data.examples[::2]
    half.fingerprint = "half" + training_data.fingerprint[4:]
    return train(project_config, half, with_entities=True).save(
        tmp_path_factory.mktemp("half"))


@pytest.fixture()
def registry_env(tmp_path, monkeypatch, trained_model_dir):
    from bot.settings import get_settings

    models = tmp_path / "models"
    models.mkdir()
    copy_model(trained_model_dir, models, "20260101-000000-fullfull")
    monkeypatch.setenv("BPBOT_MODELS_PATH", str(models))
    monkeypatch.setenv("BPBOT_DATABASE_URL", f"sqlite:///{tmp_path}/registry.sqlite3")
    monkeypatch.setenv("BPBOT_ENVIRONMENT", "test")
    monkeypatch.chdir(ROOT)
    get_settings.cache_clear()
    yield models
    get_settings.cache_clear()


def test_gate_refuses_a_worse_candidate_with_the_table_and_force_is_recorded(
        registry_env, half_model, tmp_path):
    from bot.registry import live_model_id, promotions
    from bot.store.db import Database

    runner = CliRunner()
    first = runner.invoke(app, ["models", "promote"])  # the first model: stories included
    assert first.exit_code == 0, first.output
    assert "36/36" in first.output and "is live" in first.output
    shutil.copytree(half_model, registry_env / "20260102-000000-halfhalf")
    config = tmp_path / "config.yml"
    config.write_text((ROOT / "config.yml").read_text().split("\ngate:")[0]
                      + GATE_WITHOUT_STORIES.format(heldout=ROOT / "tests/data/heldout"))
    refused = runner.invoke(app, ["models", "promote", "20260102-000000-halfhalf",
                                  "--config", str(config)])
    assert refused.exit_code == 1, refused.output
    assert "live " in refused.output and "candidate " in refused.output  # both, side by side
    assert "refused: " in refused.output and "points below the live model" in refused.output
    assert "stays a candidate" in refused.output
    db = Database(os.environ["BPBOT_DATABASE_URL"])
    assert live_model_id(db) == "20260101-000000-fullfull"
    no_reason = runner.invoke(app, ["models", "promote", "20260102-000000-halfhalf", "--force"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    forced = runner.invoke(app, ["models", "promote", "20260102-000000-halfhalf", "--force",
                                 "--reason", "test of the override", "--config", str(config)])
    assert forced.exit_code == 0 and "(forced)" in forced.output
    record = promotions(db)[0]
    assert (record.model_id, record.forced, record.reason) == (
        "20260102-000000-halfhalf", True, "test of the override")
    assert record.report["passed"] is False and record.report["reasons"]
    listed = runner.invoke(app, ["models", "list"])
    assert "20260102-000000-halfhalf     live" in listed.output
    back = runner.invoke(app, ["models", "rollback", "--reason", "worse"])
    assert back.exit_code == 0 and live_model_id(db) == "20260101-000000-fullfull"


def test_bpbot_test_without_data_scores_the_heldout_enquiries(registry_env, tmp_path):
    """Before: `bpbot test` scored the training data (0.999) and said nothing of quality."""
    from bot.registry import promotable, record_promotion
    from bot.store.db import Database

    _, digest = promotable(registry_env, "20260101-000000-fullfull")  # the live model
    record_promotion(Database(os.environ["BPBOT_DATABASE_URL"]), "20260101-000000-fullfull",
                     digest=digest)
    result = CliRunner().invoke(app, ["test", "--out", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert "Held-out enquiries: " in result.output and "unseen_b.jsonl" in result.output
    report = json.loads((tmp_path / "reports" / "routing_report.json").read_text())
    assert {"fi", "sv", "en"} <= set(report["languages"])
    assert report["languages"]["fi"]["support"] > 200


def test_promotion_swaps_the_model_in_two_running_processes_without_a_failed_request(
        postgres_url, trained_model_dir, tmp_path):
    """8 conversations run against two `bpbot serve` processes on PostgreSQL while a model
    is promoted: no request fails, both report the new model id within 10 s."""
    from bot.registry import folder_digest, record_promotion

    db = _empty_database(postgres_url)
    models = tmp_path / "models"
    models.mkdir()
    live = copy_model(trained_model_dir, models, "20260101-000000-aaaaaaaa")
    record_promotion(db, live.name, digest=folder_digest(live))
    newer = copy_model(trained_model_dir, models, "20260201-000000-bbbbbbbb")  # not live
    env = {**os.environ, "BPBOT_DATABASE_URL": postgres_url, "BPBOT_ENVIRONMENT": "test",
           "BPBOT_MODELS_PATH": str(models), "BPBOT_OUTBOX_INTERVAL_S": "0",
           "BPBOT_RATE_LIMIT_PER_MINUTE": "100000", "HF_HUB_OFFLINE": "1",
           "BPBOT_CACHE_DIR": str(tmp_path / "cache")}
    bpbot = os.path.join(os.path.dirname(sys.executable), "bpbot")
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen([bpbot, "serve", "--port", str(p)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, server in zip(urls, servers, strict=True):
            wait_ready(url, server)
            assert httpx.get(url + "/readyz").json()["model"] == "20260101-000000-aaaaaaaa"
        statuses, switched = [], {}

        async def chat(n, stop):
            async with keeping_tokens(httpx.AsyncClient(timeout=60)) as client:
                i = 0
                while not stop.is_set():
                    response = await client.post(urls[n % 2] + "/webhooks/rest/webhook", json={
                        "sender": f"swap-{n}-{i // 4}", "message": f"Tarvitsen terassiluvan {i}"})
                    statuses.append(response.status_code)
                    i += 1

        async def watch(started):
            async with keeping_tokens(httpx.AsyncClient(timeout=10)) as client:
                while len(switched) < 2 and time.monotonic() - started < 30:
                    for url in urls:
                        ready = (await client.get(url + "/readyz")).json()
                        if ready["model"] == "20260201-000000-bbbbbbbb" and url not in switched:
                            switched[url] = time.monotonic() - started
                    await asyncio.sleep(0.1)

        async def main():
            stop = asyncio.Event()
            talkers = [asyncio.create_task(chat(n, stop)) for n in range(8)]
            await asyncio.sleep(1.0)
            started = time.monotonic()
            await asyncio.to_thread(partial(record_promotion, db, newer.name,
                                            digest=folder_digest(newer)))
            await watch(started)
            await asyncio.sleep(1.0)  # and a moment on the new model
            stop.set()
            await asyncio.gather(*talkers)

        asyncio.run(main())
        metrics = httpx.get(urls[0] + "/metrics").text
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        db.dispose()
    assert len(switched) == 2 and max(switched.values()) <= 10, switched
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert 'bpbot_model_info{model_id="20260201-000000-bbbbbbbb"} 1.0' in metrics
    # Serving keeps no embeddings: live messages are unique, and personal data.
    assert not (tmp_path / "cache" / "embeddings.sqlite3").exists()
    print(f"swap: {len(statuses)} chat requests, none failed; switched after "
          f"{', '.join(f'{s:.1f} s' for s in switched.values())}")
