"""Fairness: one client's flood of long messages against another user's latency. Loopback only.

Usage: python bench/fairness.py [--model DIR] [--victim-messages 30]
Starts the app on 127.0.0.1 (SQLite, the default rate limit of 60 messages per minute per
address) with the newest model under models/ (or --model). A victim sends short, unique
messages one at a time from 127.0.3.x and its latency is measured three times: alone;
beside an attacker on 127.0.2.1 that sends a burst of 60 messages of 10 000 characters
over 4 connections (refused before the NLU: over the message limit); and beside an
attacker on 127.0.2.2 that sends 60 unique messages of the largest accepted length over 4
connections (these reach the NLU; the NLU queue takes clients in turn). Prints the
victim's p50/p95 in each case and the p50 ratios (target: at most 3x). Stops by itself;
the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import start_server  # noqa: E402
from tests.chat import keeping_tokens  # noqa: E402

TOPICS = ["terassilupa kahvilalle", "rakennuslupa hallille", "ympäristölupa maalaamolle",
          "rekrytointiapua kahdelle kokille", "yritystontti Kuninkaanportista",
          "starttirahaa uudelle yritykselle", "hankintailmoitus siivouspalvelusta"]


def client(address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return keeping_tokens(httpx.AsyncClient(timeout=120, transport=transport))


async def victim(base: str, count: int, tag: str, address: str) -> list[float]:
    """Latencies of `count` unique short messages, one at a time."""
    latencies = []
    async with client(address) as http:
        for i in range(count):
            text = f"Hei, tarvitsisin {TOPICS[i % len(TOPICS)]} ({tag} {i})"
            started = time.perf_counter()
            response = await http.post(base + "/webhooks/rest/webhook", json={
                "sender": f"victim-{tag}-{i // 5}", "message": text})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"the victim got {response.status_code}: {response.text}")
    return latencies


async def attacker(base: str, address: str, chars: int, total: int = 60,
                   connections: int = 4) -> dict[str, int]:
    """A burst of `total` messages of `chars` characters over `connections` connections."""
    codes: dict[str, int] = {}

    async def one_connection(c: int) -> None:
        async with client(address) as http:
            for i in range(c, total, connections):
                filler = f"Yrityksemme {i} tarvitsee lupia ja neuvontaa. "
                text = (filler * (chars // len(filler) + 1))[:chars]
                response = await http.post(base + "/webhooks/rest/webhook", json={
                    "sender": f"flood-{address}-{i}", "message": text})
                codes[str(response.status_code)] = codes.get(str(response.status_code), 0) + 1

    await asyncio.gather(*(one_connection(c) for c in range(connections)))
    return codes


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1)}


async def beside(base: str, address: str, chars: int, count: int, tag: str,
                 victim_address: str) -> tuple[list[float], dict[str, int]]:
    flood = asyncio.create_task(attacker(base, address, chars))
    await asyncio.sleep(0.05)  # the burst is on its way
    latencies = await victim(base, count, tag, victim_address)
    return latencies, await flood


async def run(base: str, count: int, max_chars: int) -> dict[str, object]:
    # Each phase's victim has an address (and so a rate limit) of its own.
    await victim(base, 3, "warm", "127.0.3.1")
    alone = await victim(base, count, "alone", "127.0.3.2")
    refused, refused_codes = await beside(base, "127.0.2.1", 10_000, count, "long",
                                          "127.0.3.3")
    accepted, accepted_codes = await beside(base, "127.0.2.2", max_chars, count, "max",
                                            "127.0.3.4")
    base_p50 = statistics.median(alone)
    return {
        "benchmark": "fairness", "victim_messages": count,
        "alone": summary(alone),
        "beside_10000_chars": {**summary(refused), "attacker_codes": refused_codes,
                               "p50_ratio": round(statistics.median(refused) / base_p50, 2)},
        f"beside_{max_chars}_chars": {
            **summary(accepted), "attacker_codes": accepted_codes,
            "p50_ratio": round(statistics.median(accepted) / base_p50, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models"))
    parser.add_argument("--victim-messages", type=int, default=30)
    args = parser.parse_args()
    from bot.settings import Settings

    max_chars = Settings().max_message_chars
    with tempfile.TemporaryDirectory() as tmp:
        server, base = start_server(args.model, f"sqlite:///{tmp}/fair.sqlite3", env_extra={
            "BPBOT_RATE_LIMIT_PER_MINUTE": "60", "BPBOT_RATE_LIMIT_PER_CONVERSATION": "30"})
        try:
            result = asyncio.run(run(base, args.victim_messages, max_chars))
        finally:
            server.terminate()
            server.wait(timeout=30)
    for key, value in result.items():
        print(f"{key:<22} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
