"""Start-up and memory of one server process, with the routing figures beside them.

Usage: python bench/startup.py [--model DIR] [--starts 3] [--warmup-s 10]
Starts `bpbot serve` (one worker, a new SQLite database, an empty embedding cache) on
127.0.0.1 `--starts` times and times each from the command to the first 200 of /readyz;
then warms the last one up with 8 concurrent conversations of unique typed texts
(bench/load.py) for `--warmup-s` seconds and reads its RSS. The held-out enquiries
(config.yml `gate: heldout`) are routed with the same model and printed beside the
figures of the release before this benchmark (the gate table of its last promotion), so a
leaner process that routes worse shows. Targets (2 cores): ready <= 3 s, RSS <= 350 MB
after warm-up, no language's right-unit rate lower than before. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import free_port, level, rss_mb  # noqa: E402

# Held-out routing of the release before (commit ca5c219, 2026-12-03: the Finnish spaCy
# pipeline loaded, the classifier unpickled with scikit-learn): right unit (incl. offered),
# clarifying question, wrong unit, in percent, over heldout + unseen + unseen_b.
BEFORE = {"fi": (96.4, 0.4, 0.7), "sv": (95.4, 0.7, 1.8), "en": (96.2, 0.4, 1.5)}
# Before, one worker: ready 6.6 s (measured 2026-12-03 without torch installed; 8.5 s with
# the test setup's torch), RSS 613 MB (issue 12's measurement, without torch).
BEFORE_STARTUP = {"ready_s": 6.6, "rss_mb": 613}


def time_to_ready(models: str, work: Path, n: int) -> tuple[float, subprocess.Popen[bytes],
                                                             str]:
    """Start `bpbot serve`; seconds until /readyz answers 200 (the process left running)."""
    port = free_port()
    env = {**os.environ, "BPBOT_DATABASE_URL": f"sqlite:///{work}/start-{n}.sqlite3",
           "BPBOT_MODELS_PATH": models, "BPBOT_CACHE_DIR": str(work / f"cache-{n}"),
           "BPBOT_ENVIRONMENT": "test", "BPBOT_OUTBOX_INTERVAL_S": "0",
           "BPBOT_RATE_LIMIT_PER_MINUTE": "1000000",
           "BPBOT_RATE_LIMIT_PER_CONVERSATION": "1000000", "HF_HUB_OFFLINE": "1"}
    exe = os.path.join(os.path.dirname(sys.executable), "bpbot")
    started = time.perf_counter()
    server = subprocess.Popen([exe, "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return time.perf_counter() - started, server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.perf_counter() - started > 120:
            server.kill()
            raise SystemExit("the server did not get ready")
        time.sleep(0.02)


def heldout(model: Path) -> dict[str, tuple[float, float, float]]:
    from bot.config import load_config
    from bot.gate import evaluate
    from bot.settings import Settings

    gate = load_config(ROOT / "config.yml").gate.model_copy(update={"stories": []})
    settings = Settings(environment="test", routing_path=str(ROOT / "routing"))
    result = evaluate(model, settings, gate, ROOT)
    return {lang: (s.right, s.ask, s.wrong) for lang, s in result.languages.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--warmup-s", type=float, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpbot-startup-"))
    if args.model is None:
        from bot.training import train_project

        model = train_project(ROOT / "config.yml", [ROOT / "data" / "nlu"], work / "models")[0]
    else:
        model = Path(args.model)
        if not (model / "manifest.json").is_file():
            from bot.nlu.model import newest_model

            model = newest_model(model)
    times = []
    server = None
    for n in range(args.starts):
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        seconds, server, base = time_to_ready(str(model), work, n)
        times.append(seconds)
    assert server is not None
    try:
        rss_ready = rss_mb(server.pid)
        load = asyncio.run(level(base, server.pid, 8, args.warmup_s, "unique"))
        rss_warm = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    routing = heldout(model)
    print(f"{'':22}{'before':>10}{'now':>10}")
    median = statistics.median(times)
    print(f"{'ready (median)':22}{BEFORE_STARTUP['ready_s']:>9.1f}s{median:>9.2f}s"
          f"   (each: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"{'RSS after warm-up':22}{BEFORE_STARTUP['rss_mb']:>8} MB{rss_warm:>7.0f} MB"
          f"   (at ready {rss_ready:.0f} MB; warm-up {load['messages']} messages)")
    print("held-out routing, %: right / question / wrong")
    for lang, now in routing.items():
        before = BEFORE.get(lang, (0.0, 0.0, 0.0))
        print(f"  {lang:20}{'/'.join(f'{v:.1f}' for v in before):>16}"
              f"{'/'.join(f'{v:.1f}' for v in now):>18}")
    print(json.dumps({"benchmark": "startup", "ready_s": [round(t, 2) for t in times],
                      "ready_s_median": round(statistics.median(times), 2),
                      "rss_mb_at_ready": rss_ready, "rss_mb_after_warmup": rss_warm,
                      "warmup": load, "heldout": routing, "heldout_before": BEFORE}))


if __name__ == "__main__":
    main()
