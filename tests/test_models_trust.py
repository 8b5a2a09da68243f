"""Model folders are data, and the registry cannot take the service down (issue 17).

The attacks: a hostile `classifier.pkl` that ran on `bpbot parse` and `bpbot serve`, a
predictor.npz whose headers claim huge arrays, rollback that toggled, a promotion of a
missing folder, a live folder deleted or changed under running servers, and a copied
folder that reloaded for ever.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import zipfile

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.browser import free_port, wait_ready
from tests.chat import keeping_tokens
from tests.conftest import ROOT
from tests.test_models_registry import copy_model

BPBOT = os.path.join(os.path.dirname(sys.executable), "bpbot")


class Hostile:
    """Unpickled, it writes a marker file: what a planted classifier.pkl could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def hostile_folder(trained_model_dir, folder, model_format, marker):
    """A model folder with a code-running classifier.pkl and a manifest of `model_format`."""
    folder.mkdir(parents=True)
    manifest = json.loads((trained_model_dir / "manifest.json").read_text())
    if model_format is None:
        manifest.pop("format")
    else:
        manifest["format"] = model_format
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "entity_patterns.json").write_text("{}")
    (folder / "classifier.pkl").write_bytes(pickle.dumps(Hostile(marker)))
    return folder


@pytest.fixture()
def cli_env(tmp_path, monkeypatch):
    """Settings of the CLI: a models folder and a SQLite database of the test's own."""
    from bot.settings import get_settings

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("BPBOT_MODELS_PATH", str(models))
    monkeypatch.setenv("BPBOT_DATABASE_URL", f"sqlite:///{tmp_path}/trust.sqlite3")
    monkeypatch.setenv("BPBOT_ENVIRONMENT", "test")
    monkeypatch.chdir(ROOT)
    get_settings.cache_clear()
    yield models
    get_settings.cache_clear()


def _database():
    from bot.store.db import Database

    return Database(os.environ["BPBOT_DATABASE_URL"])


def promote(db, models, model_id):
    """Record a promotion as `bpbot models promote` does after the gate (digest and all)."""
    from bot.registry import promotable, record_promotion

    _, digest = promotable(models, model_id)
    return record_promotion(db, model_id, digest=digest)


# -- no pickle is ever loaded ---------------------------------------------------------------

FORMATS = [(3, "E030", "bpbot models convert"), (99, "E030", "bpbot train"),
           (None, "E030", "no model format"), ("4", "E030", "format '4'"),
           (4, "E006", "predictor.npz")]


@pytest.mark.parametrize(("model_format", "code", "says"), FORMATS)
def test_models_trust_parse_never_unpickles_a_planted_classifier(
        trained_model_dir, cli_env, tmp_path, model_format, code, says):
    """Before: `bpbot parse --model` unpickled classifier.pkl before the format check, even
    with format 99 (and with format 4 when predictor.npz was missing)."""
    marker = tmp_path / "ran.txt"
    folder = hostile_folder(trained_model_dir, tmp_path / "planted", model_format, marker)
    result = CliRunner().invoke(app, ["parse", "Tarvitsen terassiluvan", "--model",
                                      str(folder)])
    assert not marker.exists()
    assert result.exit_code == 2, result.output
    assert f"[{code}]" in result.output and str(folder) in result.output
    assert says in result.output


@pytest.mark.parametrize("how", ["newest folder, nothing promoted", "pinned folder",
                                 "--model"])
def test_models_trust_serve_never_unpickles_and_says_why_in_one_line(
        trained_model_dir, tmp_path, how):
    """Before: `bpbot serve` on a database with no promotion loaded the newest folder under
    models/ and ran its pickle at start; now it refuses in one line (exit 2), and a named
    folder of format 3 is refused by its manifest."""
    marker = tmp_path / "ran.txt"
    models = tmp_path / "models"
    copy_model(trained_model_dir, models, "20260101-000000-aaaaaaaa")
    planted = hostile_folder(trained_model_dir, models / "20990101-000000-ffffffff", 3, marker)
    env = {**os.environ, "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1",
           "BPBOT_DATABASE_URL": f"sqlite:///{tmp_path}/serve.sqlite3",
           "BPBOT_MODELS_PATH": str(planted if how == "pinned folder" else models),
           "BPBOT_OUTBOX_INTERVAL_S": "0"}
    command = [BPBOT, "serve", "--port", str(free_port())]
    if how == "--model":
        command += ["--model", str(planted)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert not marker.exists()
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    if how == "newest folder, nothing promoted":
        assert "[E033]" in lines[0] and "bpbot models promote ID" in lines[0]
    else:
        assert "[E030]" in lines[0] and str(planted) in lines[0]
        assert "bpbot models convert" in lines[0]


def test_models_trust_convert_is_the_only_unpickling_and_admits_only_a_classifier(
        trained_model, trained_model_dir, cli_env, tmp_path):
    """A format-3 model is refused until `bpbot models convert` rewrites it as arrays; the
    convert command admits the classes of a classifier only (a planted pickle is refused)."""
    from bot.errors import ModelFormatError
    from bot.nlu.model import load_model

    old = copy_model(trained_model_dir, cli_env, "20250101-000000-oldoldol")
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format": 3}))
    (old / "predictor.npz").unlink()
    (old / "classifier.pkl").write_bytes(pickle.dumps(trained_model.classifier))
    with pytest.raises(ModelFormatError, match=r"bpbot models convert .*20250101-000000"):
        load_model(old)
    marker = tmp_path / "ran.txt"
    planted = hostile_folder(trained_model_dir, cli_env / "20250102-000000-planted0", 3,
                             marker)
    result = CliRunner().invoke(app, ["models", "convert", "--all"])
    assert not marker.exists()
    assert result.exit_code == 2, result.output
    assert "unpickling can run code" in result.output
    assert f"{old}: converted to format 4" in result.output
    assert f"'{planted}' cannot be loaded" in result.output and "exec" in result.output
    assert not (old / "classifier.pkl").exists()
    converted = load_model(old, embedder=trained_model.embedder, with_entities=False)
    assert converted.manifest["format"] == 4
    texts = ["Tarvitsen terassiluvan", "Jag vill hyra en tomt", "street works permit"]
    np.testing.assert_allclose(converted.classifier.predict_proba(
        trained_model.embedder.encode(texts), texts),
        trained_model.classifier.predict_proba(trained_model.embedder.encode(texts), texts),
        atol=1e-9)


# -- oversized arrays are refused before they are allocated ----------------------------------

def _npy_header(shape, descr):
    from io import BytesIO

    out = BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return out.getvalue()


def write_claiming_predictor(trained_model_dir, folder, ngrams, *, fill):
    """predictor.npz with the model's arrays but `ngrams` n-grams: headers say so, and the
    data is zeros (compressed, so the file stays small) when `fill`, else absent."""
    with np.load(trained_model_dir / "predictor.npz") as real:
        arrays = {name: real[name] for name in real.files}
    intents = len(arrays["labels"])
    big = {"idf": ((ngrams,), "<f8"), "vocabulary": ((ngrams,), "<U5"),
           "log_prob": ((ngrams, intents), "<f8")}
    with zipfile.ZipFile(folder / "predictor.npz", "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                if name not in big:
                    np.lib.format.write_array(out, array, allow_pickle=False)
                    continue
                shape, descr = big[name]
                out.write(_npy_header(shape, descr))
                left = int(np.prod(shape)) * np.dtype(descr).itemsize if fill else 0
                zeros = bytes(2**22)
                while left > 0:
                    out.write(zeros[:min(left, len(zeros))])
                    left -= len(zeros)


MEASURE = """
import json, resource, sys, time
from bot.nlu.model import load_model
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    load_model(sys.argv[1], with_entities=False)
    error = None
except Exception as exc:
    error = str(exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "seconds": time.perf_counter() - started,
                  "grown_mb": grown / 1024}))
"""


@pytest.mark.parametrize(("ngrams", "fill"), [(1_800_000, True), (10**12, False)])
def test_models_trust_a_predictor_claiming_huge_arrays_is_refused_before_allocating(
        trained_model_dir, tmp_path, ngrams, fill):
    """Before: a small predictor.npz whose compressed zeros made 1.7 GB took that much to
    load (and a header claiming terabytes failed only on allocating). Now the headers are
    checked against the manifest and a size cap, before any array is read."""
    folder = copy_model(trained_model_dir, tmp_path, "20260101-000000-bigbigbi")
    write_claiming_predictor(trained_model_dir, folder, ngrams, fill=fill)
    assert (folder / "predictor.npz").stat().st_size < 8 * 2**20
    done = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["error"] and "[E031]" in measured["error"], measured
    assert str(folder) in measured["error"]
    assert measured["grown_mb"] < 50 and measured["seconds"] < 2, measured


@pytest.mark.parametrize(("name", "shape", "descr", "says"), [
    ("labels", (44,), "|O", "dtype |O"),
    ("coef", (44, 999), "<f4", "999 along axis 1 where 384 dim"),
    ("log_prob", (26443, 45), "<f8", "45 along axis 1"),
])
def test_models_trust_arrays_unlike_the_manifest_are_refused(
        trained_model_dir, tmp_path, name, shape, descr, says):
    from bot.errors import ModelArraysError
    from bot.nlu.predictor import ARRAYS, ArrayHeader, check_headers, read_header

    with zipfile.ZipFile(trained_model_dir / "predictor.npz") as archive:
        headers = {}
        for entry in archive.namelist():
            with archive.open(entry) as raw:
                headers[entry.removesuffix(".npy")] = read_header(raw)
    assert set(headers) == set(ARRAYS)
    assert check_headers(headers, intents=44, dim=384) is None
    ngrams = headers["idf"].shape[0]
    shape = tuple(ngrams if n == 26443 else n for n in shape)
    headers[name] = ArrayHeader(shape, np.dtype(descr))
    problem = check_headers(headers, intents=44, dim=384)
    assert problem is not None and says in problem
    folder = copy_model(trained_model_dir, tmp_path, "20260101-000000-oddoddod")
    with zipfile.ZipFile(folder / "predictor.npz", "w") as archive:
        for entry, header in headers.items():
            with archive.open(f"{entry}.npy", "w") as out:
                out.write(_npy_header(header.shape, header.dtype.str))
    from bot.nlu.model import load_model

    with pytest.raises(ModelArraysError, match=str(folder)):
        load_model(folder, with_entities=False)


# -- the registry: digests, rollback, promotion ---------------------------------------------

@pytest.fixture()
def three_models(trained_model_dir, cli_env):
    """Models A, B and C (copies of the session's model under three ids)."""
    return [copy_model(trained_model_dir, cli_env, f"2026010{n}-000000-{c * 8}").name
            for n, c in ((1, "a"), (2, "b"), (3, "c"))]


def test_models_trust_rollback_steps_back_through_the_history(three_models, cli_env):
    """Before: A, B, C and three rollbacks gave B, C, B (it toggled)."""
    from bot.registry import live_model_id, promotions

    a, b, c = three_models
    db = _database()
    for model_id in (a, b, c):
        promote(db, cli_env, model_id)
    runner = CliRunner()
    for expected in (b, a):
        result = runner.invoke(app, ["models", "rollback", "--reason", "worse"])
        assert result.exit_code == 0, result.output
        assert live_model_id(db) == expected and f"{expected} is live again" in result.output
    last = runner.invoke(app, ["models", "rollback"])
    assert last.exit_code == 2 and "[E034]" in last.output
    assert "no earlier live model" in last.output and live_model_id(db) == a
    rows = promotions(db)
    assert [(r.model_id, r.rollback, r.reason) for r in rows[:2]] == [
        (a, True, "worse"), (b, True, "worse")]
    assert rows[0].digest == rows[-1].digest  # A's files, checked again
    promote(db, cli_env, c)  # a promotion after rollbacks: back goes to A again
    assert runner.invoke(app, ["models", "rollback"]).exit_code == 0
    assert live_model_id(db) == a


@pytest.mark.parametrize("damage", ["folder gone", "manifest unreadable", "file changed"])
def test_models_trust_rollback_to_a_missing_or_changed_model_is_refused(
        three_models, cli_env, damage):
    """Before: rollback accepted a model whose folder was gone; servers then logged a
    traceback every 2.5 s and a restart exited with one."""
    from bot.registry import live_model_id

    a, b, _ = three_models
    db = _database()
    promote(db, cli_env, a)
    promote(db, cli_env, b)
    if damage == "folder gone":
        shutil.rmtree(cli_env / a)
    elif damage == "manifest unreadable":
        (cli_env / a / "manifest.json").write_text("{not json")
    else:
        (cli_env / a / "entity_patterns.json").write_text('{"planted": []}')
    result = CliRunner().invoke(app, ["models", "rollback"])
    assert result.exit_code == 2, result.output
    assert "[E034]" in result.output and f"from {b} to {a}" in result.output
    assert live_model_id(db) == b


@pytest.mark.parametrize(("damage", "says"), [
    ("no such folder", "No trained model found"), ("format 99", "model format 99"),
    ("arrays of another model", "along axis")])
def test_models_trust_promotion_of_a_missing_or_unreadable_model_is_refused(
        three_models, cli_env, trained_model_dir, damage, says):
    from bot.registry import live_model_id

    a, _, _ = three_models
    target = cli_env / a
    if damage == "no such folder":
        target = cli_env / "20260109-000000-gonegone"
    elif damage == "format 99":
        manifest = json.loads((target / "manifest.json").read_text())
        (target / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    else:
        manifest = json.loads((target / "manifest.json").read_text())
        (target / "manifest.json").write_text(json.dumps(
            {**manifest, "intents": manifest["intents"][:-1]}))
    from bot.errors import PromotionError
    from bot.registry import promotable

    with pytest.raises(PromotionError, match=says):
        promotable(cli_env, target.name)
    if damage != "no such folder":  # the CLI names models that are not there on its own
        result = CliRunner().invoke(app, ["models", "promote", target.name])
        assert result.exit_code == 2 and "[E034]" in result.output, result.output
    assert live_model_id(_database()) is None


def test_models_trust_a_tampered_live_folder_is_refused(three_models, cli_env):
    """The digest recorded at promotion: a changed or swapped folder is not loaded."""
    from bot.errors import ModelDigestError, NoLiveModelError
    from bot.registry import live_model_path

    a = three_models[0]
    db = _database()
    promote(db, cli_env, a)
    assert live_model_path(db, cli_env) == cli_env / a
    patterns = cli_env / a / "entity_patterns.json"
    patterns.write_text(patterns.read_text() + " ")  # still valid, not the promoted file
    with pytest.raises(ModelDigestError, match=rf"'{cli_env / a}' is refused.*changed or "
                                               "replaced"):
        live_model_path(db, cli_env)
    parsed = CliRunner().invoke(app, ["parse", "Tarvitsen terassiluvan"])
    assert parsed.exit_code == 2 and "[E032]" in parsed.output, parsed.output
    from bot.agent import Agent
    from bot.settings import get_settings

    with pytest.raises(NoLiveModelError, match=r"\[E033\].*changed or replaced"):
        Agent.load(get_settings())


def test_models_trust_nothing_live_means_no_model_unless_one_is_named(
        trained_model_dir, cli_env):
    """Before: with no promotion, the newest folder under models/ was loaded."""
    from bot.errors import NoLiveModelError
    from bot.registry import live_model_path

    copy_model(trained_model_dir, cli_env, "20260101-000000-aaaaaaaa")
    with pytest.raises(NoLiveModelError, match="bpbot models promote ID"):
        live_model_path(_database(), cli_env)
    assert live_model_path(_database(), cli_env / "20260101-000000-aaaaaaaa") == (
        cli_env / "20260101-000000-aaaaaaaa")  # a pinned folder is named
    listed = CliRunner().invoke(app, ["models", "list"])
    assert "Nothing is live yet" in listed.output
    assert "live" not in listed.output.splitlines()[0]
    promote(_database(), cli_env, "20260101-000000-aaaaaaaa")
    copy_model(trained_model_dir, cli_env, "20260102-000000-bbbbbbbb")
    again = CliRunner().invoke(app, ["models", "promote", "--first"])  # scripts/run.sh
    assert again.exit_code == 0 and "--first changes nothing" in again.output
    assert live_model_path(_database(), cli_env) == cli_env / "20260101-000000-aaaaaaaa"


# -- running servers: keep serving, say it once, start on the last loadable -------------------

def _serve(env, log):
    port = free_port()
    server = subprocess.Popen([BPBOT, "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, server)
    return server, url


def _wait_for(check, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_models_trust_a_server_keeps_its_model_says_so_once_and_restarts_on_the_last_good(
        trained_model_dir, tmp_path):
    """A copied folder promoted is loaded once (before: every look, for ever); a live model
    whose folder is gone leaves the server on its model, said once in the log and in
    /readyz (before: a traceback every look, /readyz silent); a restart starts on the last
    promoted model that loads (before: it exited with a traceback)."""
    from bot.registry import folder_digest, record_promotion
    from bot.store.db import Database

    models = tmp_path / "models"
    a = copy_model(trained_model_dir, models, "20260101-000000-aaaaaaaa")
    db = Database(f"sqlite:///{tmp_path}/serve.sqlite3")
    promote(db, models, a.name)
    env = {**os.environ, "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1",
           "BPBOT_DATABASE_URL": db.url, "BPBOT_MODELS_PATH": str(models),
           "BPBOT_OUTBOX_INTERVAL_S": "0", "BPBOT_MODEL_POLL_S": "0.2",
           "BPBOT_RATE_LIMIT_PER_MINUTE": "100000", "BPBOT_LOG_LEVEL": "INFO"}
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server, url = _serve(env, log)
        try:
            shutil.copytree(a, models / "20260102-000000-copycopy")  # manifest says a's id
            promote(db, models, "20260102-000000-copycopy")
            _wait_for(lambda: httpx.get(url + "/readyz").json()["model"]
                      == "20260102-000000-copycopy")
            gone = copy_model(trained_model_dir, models, "20260103-000000-gonegone")
            digest = folder_digest(gone)
            shutil.rmtree(gone)  # promoted on a host that has it; this one has not
            record_promotion(db, gone.name, digest=digest)
            _wait_for(lambda: "live_model_problem" in httpx.get(url + "/readyz").json())
            time.sleep(2.0)  # ten more looks
            ready = httpx.get(url + "/readyz")
            with keeping_tokens(httpx.Client(timeout=30)) as client:
                replies = [client.post(url + "/webhooks/rest/webhook", json={
                    "sender": "trust-1", "message": text}) for text in
                    ("Tarvitsen terassiluvan", "Kahvila Kantele")]
        finally:
            server.terminate()
            server.wait(timeout=30)
    first_run = log_path.read_text()
    assert ready.status_code == 200
    assert ready.json()["model"] == "20260102-000000-copycopy"
    problem = ready.json()["live_model_problem"]
    assert problem["model"] == gone.name and "No trained model found" in problem["problem"]
    assert all(r.status_code == 200 and r.json() for r in replies)
    assert first_run.count("Switched to the live model") == 1, first_run
    assert first_run.count("Could not switch to the live model") == 1, first_run
    assert "Traceback" not in first_run
    with open(log_path, "w") as log:
        server, url = _serve(env, log)
        try:
            ready = httpx.get(url + "/readyz").json()
        finally:
            server.terminate()
            server.wait(timeout=30)
    restarted = log_path.read_text()
    assert ready["model"] == "20260102-000000-copycopy"
    assert ready["live_model_problem"]["model"] == gone.name
    assert restarted.count("Started with model 20260102-000000-copycopy") == 1, restarted
    assert "Traceback" not in restarted
    db.dispose()
