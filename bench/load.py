"""Load on the chat API over HTTP: loopback only, bounded in time, stops by itself.

Usage: python bench/load.py [--seconds 15] [--levels 1,8,32] [--workers 1] [--model DIR]
                            [--texts unique,repeated]
Starts `uvicorn bot.server.app:app_from_environment` on 127.0.0.1 (SQLite for one worker,
a throwaway PostgreSQL for several), then for each kind of text and level runs that many
concurrent conversations (the happy path, fi/sv/en in turn, each message waiting for its
answer) for `--seconds`. Every conversation must end in a submitted enquiry (its
reference), or the benchmark stops.

Texts: `unique` (the default figure): every message is typed, none is a button payload;
each conversation has its own enquiry text, name, company and e-mail, and its short
answers ("joo", "ja tack", "yes please", "Lähetä") come from a list of the ways people
write them, as in real use. `repeated`: every conversation sends the same texts (one of
them a button payload), the load script of earlier versions: with an embedding cache those
texts were cache hits; a server keeps no cache now, so the two should be close.

Prints messages per second, p50/p95 latency, CPU per message (server and load generator)
and the server's RSS after the run; the last line is one JSON object. Target on 2 cores,
one worker: >= 70 messages/s with p95 < 250 ms at 8 concurrent conversations with unique
texts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.conversation_speed import PATHS, pct  # noqa: E402

REFERENCE = re.compile(r"BP-\d{4}-\d{6}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(models: str, database: str, workers: int = 1, *,
                 ready_within_s: float = 180, env_extra: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """Start the app on a free loopback port (no rate limit, no outbox); wait until ready.

    `env_extra` overrides settings (BPBOT_...), such as the rate limit.
    """
    port = free_port()
    env = {**os.environ, "BPBOT_DATABASE_URL": database, "BPBOT_MODELS_PATH": models,
           "BPBOT_RATE_LIMIT_PER_MINUTE": "1000000", "BPBOT_OUTBOX_INTERVAL_S": "0",
           "BPBOT_RATE_LIMIT_PER_CONVERSATION": "1000000",
           "BPBOT_SMTP_PORT": "1", "BPBOT_ENVIRONMENT": "test", "HF_HUB_OFFLINE": "1",
           **(env_extra or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bot.server.app:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-proxy-headers"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within_s
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("the server did not start")
        time.sleep(0.5)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process and its children (uvicorn workers)."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    try:
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                               text=True).stdout.split()
    except OSError:
        return []
    return [int(c) for c in found]


def rss_mb(pid: int) -> float:
    """RSS of the process and its children (uvicorn workers), in MB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def letters(number: int) -> str:
    """A name-like tag for `number` (names may not hold digits): 0 -> "Aa", 27 -> "Bb"."""
    tag = ""
    while True:
        number, digit = divmod(number, 26)
        tag += chr(ord("a") + digit)
        if not number:
            return "A" + tag


# How people type the two short answers of the happy path (the first one agrees to pass
# the enquiry on, the last one sends the summary).
SHORT_ANSWERS = {
    "fi": (["kyllä", "joo", "kyllä kiitos", "juu", "Kyllä", "joo kiitos"],
           ["Lähetä", "lähetä", "Lähetä vaan", "Hyväksyn", "lähetä se"]),
    "sv": (["ja", "Ja", "ja tack", "javisst", "ja gärna"],
           ["Skicka", "skicka", "Jag godkänner", "skicka den", "Skicka in"]),
    "en": (["yes please", "yes", "Yes", "sure", "yes, please"],
           ["Send it", "send", "Send", "send it please", "I accept"]),
}
ENQUIRIES = {
    "fi": ["Haluaisin hakea terassilupaa kahvilalle", "Tarvitsemme terassiluvan ravintolalle",
           "Miten haen terassilupaa kesäksi", "Kahvilamme haluaa terassin kadulle"],
    "sv": ["Vi vill bygga en ny lagerhall och undrar om det behövs bygglov",
           "Behöver vi bygglov för en ny lagerbyggnad",
           "Vi planerar en lagerhall, vilket lov behövs"],
    "en": ["We need to recruit two welders, can the city help?",
           "We are hiring three welders, does the city help with recruitment?",
           "Can the employment services help us find welders?"],
}


def personal(text: str, step: int, tag: int, lang: str = "fi", unique: bool = True) -> str:
    """The text a conversation sends at `step`.

    `unique`: the enquiry, the name, the company and the e-mail are new in every
    conversation, and the short answers are typed the ways people write them.
    """
    if not unique:
        return text
    if step == 0:
        enquiries = ENQUIRIES[lang]
        return f"{enquiries[tag % len(enquiries)]} ({tag})"
    if step in (2, 3):  # the name, the company
        return f"{text} {letters(tag)}"
    if "@" in text:
        local, domain = text.split("@")
        return f"{local}.{tag}@{domain}"
    agree, send = SHORT_ANSWERS[lang]
    if step == 1:
        return agree[tag % len(agree)]
    return send[(tag // 7) % len(send)]


async def conversation(client: httpx.AsyncClient, n: int, stop_at: float,
                       latencies: list[float], done: list[str], level_tag: int = 0,
                       unique: bool = True) -> None:
    languages = list(PATHS)
    round_ = 0
    while time.monotonic() < stop_at:
        lang = languages[(n + round_) % len(languages)]
        # A new conversation every round and level (an old one would reuse the contact
        # details already given, and this script answers as if it were asked for them).
        sender = f"load-{level_tag}-{n}-{round_}"
        tag = level_tag * 10_000_000 + n * 10_000 + round_
        replies: list[dict[str, str]] = []
        for i, text in enumerate(PATHS[lang]):
            if time.monotonic() >= stop_at:
                return
            started = time.perf_counter()
            response = await client.post("/webhooks/rest/webhook", json={
                "sender": sender, "message": personal(text, i, tag, lang, unique)})
            response.raise_for_status()
            latencies.append(1000 * (time.perf_counter() - started))
            replies = response.json()
        # The last answer gives the enquiry's reference: the conversation really went through.
        reference = REFERENCE.search(" ".join(r.get("text") or "" for r in replies))
        if reference is None:
            raise SystemExit(f"conversation {sender} ended without an enquiry: {replies}")
        done.append(reference.group(0))
        round_ += 1


async def level(base: str, server_pid: int, concurrent: int, seconds: float,
                texts: str = "unique", run: int = 0) -> dict[str, object]:
    latencies: list[float] = []
    done: list[str] = []
    server_cpu, own_cpu = cpu_s(server_pid), time.process_time()
    limits = httpx.Limits(max_connections=concurrent + 4)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(conversation(client, n, stop_at, latencies, done,
                                            run * 1000 + concurrent, texts == "unique")
                               for n in range(concurrent)))
        wall = time.monotonic() - started
    server_cpu, own_cpu = cpu_s(server_pid) - server_cpu, time.process_time() - own_cpu
    return {"texts": texts, "concurrent": concurrent, "messages": len(latencies),
            "enquiries": len(set(done)),
            "messages_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(pct(latencies, 0.95), 1),
            # CPU per message: the server's, and this load generator's own share of the cores
            "server_cpu_ms": round(1000 * server_cpu / max(1, len(latencies)), 2),
            "client_cpu_ms": round(1000 * own_cpu / max(1, len(latencies)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--texts", default="unique,repeated")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bpbot-load-")
    models = args.model
    if models is None:
        from bot.training import train_project

        models = str(train_project(ROOT / "config.yml", [ROOT / "data" / "nlu"],
                                   Path(tmp) / "models")[0])
    server_pg = None
    if args.workers > 1:
        from tests.pg_server import ThrowawayPostgres

        server_pg = ThrowawayPostgres()
        database = server_pg.start()
    else:
        database = f"sqlite:///{tmp}/load.sqlite3"
    results: dict[str, object] = {"benchmark": "load", "workers": args.workers,
                                  "database": database.split(":")[0]}
    try:
        server, base = start_server(models, database, args.workers, ready_within_s=120)
        try:
            results["levels"] = [
                asyncio.run(level(base, server.pid, int(c), args.seconds, texts, run))
                for run, texts in enumerate(args.texts.split(","))
                for c in args.levels.split(",")]
            results["server_rss_mb"] = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if server_pg is not None:
            server_pg.stop()
    for key, value in results.items():
        print(f"{key:14} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
