"""Send messages through the assistant in a process of its own (for restart tests).

Usage: python -m tests.play_process --model DIR --sender ID [--kill] [--deliver] MESSAGE...
Settings come from BPBOT_* environment variables. Prints the bot's texts, one JSON list a
message. --kill ends the process with SIGKILL after the messages (no clean shutdown).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal

from bot.agent import Agent
from bot.notify.outbox import OutboxWorker
from bot.settings import Settings


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--sender", required=True)
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--deliver", action="store_true")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    settings = Settings()
    agent = Agent.load(settings, model=args.model)
    for text in args.messages:
        replies = await agent.handle_message(args.sender, text)
        print(json.dumps([r.get("text") for r in replies], ensure_ascii=False), flush=True)
    if args.deliver:
        sent = OutboxWorker(agent.store.db, settings).run_once()
        print(json.dumps({"sent": sent}), flush=True)
    if args.kill:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main())
