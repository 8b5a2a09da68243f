"""Dialogue speed: full conversations through the engine (no HTTP) on SQLite and PostgreSQL.

Usage: python bench/conversation_speed.py [--conversations 24] [--model DIR] [--no-postgres]
Each conversation is the happy path (route, forward, form, summary and send, partly typed
instead of clicked) in fi, sv or en in turn. Prints turns per second, p50/p95 turn
latency, and the NLU parse alone of each text, timed right after its turn (the ratio
text-turn p50 / parse p50 is the figure to watch; target <= 1.5). The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PATHS = {
    "fi": ["Haluaisin hakea terassilupaa kahvilalle", "kyllä", "Maija Meikäläinen",
           "Kahvila Kanteleen Tmi", "maija@kahvila.example.fi", "Lähetä"],
    # Two clauses: the message is also read clause by clause (several needs?).
    "sv": ["Vi vill bygga en ny lagerhall och undrar om det behövs bygglov", "ja",
           "Anna Andersson", "Bygg Ab 3416721-2", "anna@bygg.example.fi", "/affirm"],
    "en": ["We need to recruit two welders, can the city help?", "yes please", "Alex Smith",
           "Weld Ltd", "alex@weld.example.fi", "Send it"],
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def drive(agent, conversations: int
                ) -> tuple[list[float], list[float], list[float]]:
    """Play the conversations; time every turn, and the bare parse right after each text."""
    all_ms, text_ms, parse_ms = [], [], []
    languages = list(PATHS)
    for n in range(conversations):
        lang = languages[n % len(languages)]
        for i, text in enumerate(PATHS[lang]):
            if i == 0:
                text = f"{text} ({n})"  # a new text each time: no embedding cache hit
            started = time.perf_counter()
            await agent.handle_message(f"bench-{n}", text)
            ms = 1000 * (time.perf_counter() - started)
            all_ms.append(ms)
            if not text.startswith("/"):
                text_ms.append(ms)
                started = time.perf_counter()
                agent.router.nlu.parse(text)
                parse_ms.append(1000 * (time.perf_counter() - started))
    return all_ms, text_ms, parse_ms


def run(url: str, router, conversations: int) -> dict:
    from bot.agent import Agent
    from bot.settings import Settings

    settings = Settings(environment="test", database_url=url, smtp_port=1)
    agent = Agent.load(settings, router=router, rng=random.Random(1))
    asyncio.run(drive(agent, 3))  # warm up
    started = time.perf_counter()
    all_ms, text_ms, parse_ms = asyncio.run(drive(agent, conversations))
    wall = time.perf_counter() - started - sum(parse_ms) / 1000
    agent.store.db.dispose()
    return {"turns": len(all_ms), "turns_per_s": round(len(all_ms) / wall, 1),
            "turn_ms_p50": round(statistics.median(all_ms), 2),
            "turn_ms_p95": round(pct(all_ms, 0.95), 2),
            "text_turn_ms_p50": round(statistics.median(text_ms), 2),
            "parse_ms_p50": round(statistics.median(parse_ms), 2),
            "text_turn_to_parse_ratio_p50": round(statistics.median(text_ms)
                                                  / statistics.median(parse_ms), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=24)
    parser.add_argument("--model", default=None)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    from bot.service import Router

    model = args.model
    if model is None:
        from bot.training import train_project

        model, _ = train_project(ROOT / "config.yml", [ROOT / "data" / "nlu"],
                                 tempfile.mkdtemp(prefix="bpbot-bench-models-"))
    from bot.nlu.embedders import create_embedder
    from bot.nlu.model import load_model
    from bot.routing import load_routing

    # No embedding cache: live messages are mostly new texts, so measure what they cost.
    nlu = load_model(model)
    feat = nlu.config.component("SentenceEmbeddingFeaturizer")
    nlu = load_model(model, embedder=create_embedder(feat.backend, feat.model,
                                                     prefix=feat.prefix, cache=False))
    router = Router(nlu, load_routing(ROOT / "routing"))
    results = {"benchmark": "conversation_speed", "conversations": args.conversations}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.sqlite3", router, args.conversations)
    if not args.no_postgres:
        from tests.pg_server import ThrowawayPostgres

        server = ThrowawayPostgres()
        try:
            results["postgresql"] = run(server.start(), router, args.conversations)
        finally:
            server.stop()
    for key, value in results.items():
        print(f"{key:14} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
