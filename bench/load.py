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

`--mail`: the server delivers its outbox to a real SMTP server (aiosmtpd) on loopback;
after the run the benchmark waits for the outbox to drain and checks that every reference
a conversation was given is stored and was e-mailed exactly once (one message to the unit,
one copy to the customer, no Message-ID twice). Errors (any answer but 200) are counted,
not fatal, and printed. Two processes on PostgreSQL, 40 conversations, a minute:
`python bench/load.py --workers 2 --levels 40 --seconds 60 --texts unique --mail`.

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
from tests.chat import keeping_tokens  # noqa: E402

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
                       latencies: list[float], done: list[str], errors: list[str],
                       level_tag: int = 0, unique: bool = True) -> None:
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
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:200]}")
                return
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
    errors: list[str] = []
    server_cpu, own_cpu = cpu_s(server_pid), time.process_time()
    limits = httpx.Limits(max_connections=concurrent + 4)
    async with keeping_tokens(httpx.AsyncClient(base_url=base, timeout=30,
                                                limits=limits)) as client:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(conversation(client, n, stop_at, latencies, done, errors,
                                            run * 1000 + concurrent, texts == "unique")
                               for n in range(concurrent)))
        wall = time.monotonic() - started
    server_cpu, own_cpu = cpu_s(server_pid) - server_cpu, time.process_time() - own_cpu
    return {"texts": texts, "concurrent": concurrent, "messages": len(latencies),
            "enquiries": len(set(done)), "references": sorted(set(done)),
            "errors": len(errors), "first_errors": errors[:5],
            "messages_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(pct(latencies, 0.95), 1),
            # CPU per message: the server's, and this load generator's own share of the cores
            "server_cpu_ms": round(1000 * server_cpu / max(1, len(latencies)), 2),
            "client_cpu_ms": round(1000 * own_cpu / max(1, len(latencies)), 2)}


class Mailbox:
    """What a real SMTP server on loopback received: (Message-ID, subject) per message."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object
                          ) -> str:  # noqa: N802 - aiosmtpd's name
        from email import message_from_bytes

        message = message_from_bytes(envelope.content)  # type: ignore[attr-defined]
        self.received.append((str(message["Message-ID"]), str(message["Subject"])))
        return "250 OK"


def check_mail(mailbox: Mailbox, database: str, references: list[str],
               wait_s: float = 120) -> dict[str, object]:
    """Wait for the outbox to drain; is every reference stored and e-mailed once?"""
    from sqlalchemy import create_engine, text

    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.execute(text(
                "SELECT count(*) FROM outbox WHERE kind = 'email' AND sent_at IS NULL")).scalar()
        if not waiting:
            break
        time.sleep(1)
    time.sleep(3)  # a worker that would (wrongly) send one again has had time to
    with engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text("SELECT reference FROM enquiry"))}
        waiting = connection.execute(text(
            "SELECT count(*) FROM outbox WHERE kind = 'email' AND sent_at IS NULL")).scalar()
    engine.dispose()
    per_reference: dict[str, int] = {}
    for _, subject in mailbox.received:
        found = REFERENCE.search(subject)
        if found:
            per_reference[found.group(0)] = per_reference.get(found.group(0), 0) + 1
    ids = [message_id for message_id, _ in mailbox.received]
    return {"references_given": len(references),
            "stored": sum(r in stored for r in references),
            "mailed_twice_each": sum(per_reference.get(r) == 2 for r in references),
            "not_mailed": sum(r not in per_reference for r in references),
            "mailed_more": sum(per_reference.get(r, 0) > 2 for r in references),
            "duplicate_message_ids": len(ids) - len(set(ids)),
            "outbox_waiting": waiting}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--texts", default="unique,repeated")
    parser.add_argument("--mail", action="store_true",
                        help="deliver the outbox to a real SMTP server and check it")
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
        from bot.store.db import Database

        Database(database).dispose()  # migrated once here, not by each worker at its start
    else:
        database = f"sqlite:///{tmp}/load.sqlite3"
    results: dict[str, object] = {"benchmark": "load", "workers": args.workers,
                                  "database": database.split(":")[0]}
    mailbox, smtp, env = Mailbox(), None, {}
    if args.mail:
        from aiosmtpd.controller import Controller

        smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        smtp.start()
        env = {"BPBOT_SMTP_HOST": "127.0.0.1", "BPBOT_SMTP_PORT": str(smtp.port),
               "BPBOT_OUTBOX_INTERVAL_S": "1"}
    try:
        server, base = start_server(models, database, args.workers, ready_within_s=120,
                                    env_extra=env)
        try:
            results["levels"] = [
                asyncio.run(level(base, server.pid, int(c), args.seconds, texts, run))
                for run, texts in enumerate(args.texts.split(","))
                for c in args.levels.split(",")]
            results["server_rss_mb"] = rss_mb(server.pid)
            if args.mail:
                given = [r for lv in results["levels"]  # type: ignore[union-attr]
                         for r in lv["references"]]
                results["mail"] = check_mail(mailbox, database, given)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        if smtp is not None:
            smtp.stop()
        if server_pg is not None:
            server_pg.stop()
    for level_result in results.get("levels") or []:  # type: ignore[union-attr]
        level_result.pop("references", None)
    for key, value in results.items():
        print(f"{key:14} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
