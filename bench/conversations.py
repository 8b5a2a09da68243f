"""Simulated entrepreneurs hold whole conversations over the REST channel: loopback only.

Usage: python bench/conversations.py [--per-kind 20] [--seed 1] [--model DIR] [--url URL]
                                     [--kinds clicked,typed,...] [--languages fi,sv,en]
                                     [--concurrency 4] [--seconds 600]
                                     [--out reports/conversations.json]
Starts `uvicorn bot.server.app:app_from_environment` on 127.0.0.1 with a temporary SQLite
database and the newest model under models/ (or --model; trained into a temporary folder
when there is none), then runs `--per-kind` conversations per kind per language with the
simulated user of tests/simulated_user.py (seeded: the same seed, the same conversations).
The enquiries of each conversation are read from the server's database (with --url, from
the references in the bot's texts). Bounded by --seconds; stops by itself. Prints success
per kind and language, overall per language, median and max user turns to the first
reference, follow-up questions answered with the unit's data, and the number of double
"didn't understand"; writes every failed transcript to --out. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import start_server  # noqa: E402
from tests.chat import keeping_tokens  # noqa: E402
from tests.simulated_user import (  # noqa: E402
    KINDS,
    LANGUAGES,
    Outcome,
    ResponseMatcher,
    RoutingFacts,
    Scenario,
    SimulatedUser,
    enquiry_units_sqlite,
    format_table,
    scenarios,
    summarise,
)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def newest_or_trained(model: str | None, tmp: str) -> str:
    """--model, else the newest model under models/, else one trained into `tmp`."""
    if model:
        return model
    from bot.nlu.model import newest_model

    try:
        return str(newest_model(ROOT / "models"))
    except Exception:  # noqa: BLE001 - none there: train one
        from bot.training import train_project

        print("no model under models/: training one", file=sys.stderr)
        return str(train_project(ROOT / "config.yml", [ROOT / "data" / "nlu"],
                                 Path(tmp) / "models")[0])


async def hold(client: httpx.AsyncClient, scenario: Scenario, matcher: ResponseMatcher,
               facts: RoutingFacts, database: str | None) -> Outcome:
    async def send(text: str) -> list[dict[str, Any]]:
        response = await client.post("/webhooks/rest/webhook",
                                     json={"sender": scenario.sender, "message": text})
        response.raise_for_status()
        return list(response.json())

    outcome = await SimulatedUser(scenario, matcher, facts).run(send)
    if database is not None:  # the database is the truth
        outcome.enquiry_units = [unit for unit, _ in enquiry_units_sqlite(database,
                                                                          scenario.sender)]
        outcome.units_from = "database"
    return outcome


async def run_all(base: str, plan: list[Scenario], database: str | None, concurrency: int,
                  stop_at: float) -> tuple[list[Outcome], int]:
    matcher, facts = ResponseMatcher(), RoutingFacts()
    queue: asyncio.Queue[Scenario] = asyncio.Queue()
    for scenario in plan:
        queue.put_nowait(scenario)
    outcomes: list[Outcome] = []
    skipped = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal skipped
        while not queue.empty():
            scenario = queue.get_nowait()
            if time.monotonic() >= stop_at:
                skipped += 1
                continue
            outcomes.append(await hold(client, scenario, matcher, facts, database))

    async with keeping_tokens(httpx.AsyncClient(base_url=base, timeout=60)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    order = {s.sender: i for i, s in enumerate(plan)}
    outcomes.sort(key=lambda o: order[o.sender])
    return outcomes, skipped


def patterns(failures: list[Outcome]) -> list[tuple[str, int]]:
    """The most common reasons of failure, read from the transcripts (one may have several)."""
    found: Counter[str] = Counter()
    for o in failures:
        said = [e.get("response") for e in o.transcript if "bot" in e]
        notes = " | ".join(o.notes)
        reasons = []
        if "bot said nothing" in notes:
            reasons.append("silent after 'yes' (form already filled)")
        if o.kind != "two_needs" and "utter_routed_several" in said:
            reasons.append("one need split into several units")
        if o.kind == "two_needs" and "utter_routed_several" not in said:
            reasons.append("two needs: only one unit found")
        if "utter_language_switched" in notes:
            reasons.append("language switch in the form: question not asked again")
        if "lacks" in notes:
            reasons.append("follow-up answer without the unit's data")
        if "bot answered in" in notes:
            reasons.append("a message in another language than the conversation's")
        if o.kind == "change_of_mind" and "utter_routed_same" in said:
            reasons.append("change of mind: 'instead' joined to the old matter")
        if o.language_ok is False:
            reasons.append("a message in the old language after a switch")
        if not reasons and not o.units_ok:
            got, want = sorted(o.enquiry_units), sorted(o.expected_units)
            if not got:
                reasons.append(f"no enquiry ({o.gave_up or 'ended'})"[:90])
            elif len(got) == len(want):
                reasons.append("wrong unit")
            else:
                reasons.append(f"{o.kind}: {len(got)} enquiries for {len(want)} needs")
        found.update(reasons)
    return found.most_common()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=20,
                        help="conversations per kind per language")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default=None, help="model folder (default: newest)")
    parser.add_argument("--url", default=None, help="a running server on loopback")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=600,
                        help="stop starting conversations after this long")
    parser.add_argument("--out", default=str(ROOT / "reports" / "conversations.json"))
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        raise SystemExit(f"--url must be on loopback (127.0.0.1), not {args.url}")
    plan = scenarios(kinds, args.languages.split(","), args.per_kind, args.seed,
                     RoutingFacts(), tag=f"sim{int(time.time())}")
    tmp = tempfile.mkdtemp(prefix="bpbot-conversations-")
    server = None
    database: str | None = None
    model = "(the running server's)"
    if args.url:
        base = args.url.rstrip("/")
    else:
        model = newest_or_trained(args.model, tmp)
        database = f"{tmp}/conversations.sqlite3"
        server, base = start_server(model, f"sqlite:///{database}")
    started = time.monotonic()
    try:
        outcomes, skipped = asyncio.run(run_all(base, plan, database, args.concurrency,
                                                started + args.seconds))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    wall = time.monotonic() - started
    summary = summarise(outcomes)
    failures = [o for o in outcomes if not o.success]
    summary.update({"benchmark": "conversations", "seed": args.seed,
                    "per_kind": args.per_kind, "model": model, "skipped_for_time": skipped,
                    "seconds": round(wall, 1), "user_turns": sum(o.user_turns
                                                                 for o in outcomes)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "failure_patterns": patterns(failures),
                               "failures": [o.to_dict() for o in failures]},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    print(format_table(summary))
    print(f"{len(outcomes)} conversations ({skipped} skipped for time), "
          f"{summary['user_turns']} user turns in {wall:.0f} s; "
          f"{len(failures)} failed, transcripts in {out}")
    print("failure patterns (a conversation may have several):")
    for reason, count in patterns(failures)[:10]:
        print(f"  {count:4}  {reason}")
    print("noticed on the way (all conversations):")
    for note, count in list(summary["notes"].items())[:10]:
        print(f"  {count:4}  {note}")
    print(json.dumps({k: v for k, v in summary.items() if k != "success"}))


if __name__ == "__main__":
    main()
