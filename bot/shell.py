"""`bpbot shell`: chat with the assistant in the terminal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from bot.agent import Agent

HELP = "\n".join([
    "Kirjoita viesti. Numero valitsee painikkeen. /new aloittaa alusta, /quit lopettaa.",
    "Skriv ett meddelande. En siffra väljer en knapp. /new börjar om, /quit avslutar.",
    "Type a message. A number picks a button. /new starts over, /quit ends "
    "(/nlu shows the NLU result).",
])


async def chat(agent: Agent, *, sender_id: str | None = None, show_nlu: bool = False,
               read: Callable[[str], str] = input, write: Callable[[str], None] = print
               ) -> str:
    """Chat until /quit or end of input; return the conversation's sender id."""
    sender = sender_id or f"shell-{uuid.uuid4().hex[:8]}"
    buttons: list[dict[str, Any]] = []
    write(HELP)
    while True:
        try:
            text = read("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return sender
        if text in ("/quit", "/exit"):
            return sender
        if text == "/nlu":
            show_nlu = not show_nlu
            write(f"(NLU result {'shown' if show_nlu else 'hidden'})")
            continue
        if text == "/new":
            sender = f"shell-{uuid.uuid4().hex[:8]}"
            write("(new conversation)")
            continue
        if text.isdigit() and buttons and 1 <= int(text) <= len(buttons):
            text = str(buttons[int(text) - 1]["payload"])
        messages = await agent.handle_message(sender, text, input_channel="shell")
        if show_nlu:
            latest = agent.tracker(sender).latest_message
            shown = {k: latest.get(k) for k in ("intent", "language", "entities", "routing")}
            write(json.dumps(shown, ensure_ascii=False, indent=2, default=str))
        buttons = []
        for message in messages:
            if message.get("text"):
                write(f"bot> {message['text']}")
            for button in message.get("buttons") or []:
                buttons.append(button)
                write(f"     [{len(buttons)}] {button['title']}")
