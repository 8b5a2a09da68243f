"""Facts customers commonly ask about a matter (routing/facts.yml), each with its source."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bot.routing.schema import FACT_KINDS, LANGUAGES, FactsFile
from bot.routing.source import Source

FACTS_FILE = "facts.yml"


@dataclass(frozen=True)
class Fact:
    """One fact in one language: the text to show and the page it comes from."""

    intent: str
    kind: str
    language: str
    text: str
    source: str


Facts = dict[tuple[str, str, str], Fact]


def load_facts(path: Path, routable: Collection[str], conversational: Collection[str]
               ) -> Facts:
    """Read routing/facts.yml (absent: no facts) into (intent, kind, language) -> Fact.

    Raises:
        RoutingTableError: naming the file, line and key of the first problem.
    """
    if not path.is_file():
        return {}
    source = Source.read(path)
    parsed: FactsFile = source.validate(FactsFile)
    facts: Facts = {}
    for intent, by_kind in parsed.facts.items():
        if intent not in routable:
            if intent in conversational:
                problem = (f"'{intent}' is a conversational intent. Facts belong to the "
                           "routable intents of routing/routes.yml.")
            else:
                close = difflib.get_close_matches(intent, list(routable), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problem = (f"unknown intent: '{intent}' has no route in routing/routes.yml, so "
                           f"it cannot have facts.{hint} Fix the name, add the route, or remove "
                           f"these facts. Intents with routes: {', '.join(sorted(routable))}.")
            raise source.error(("facts", intent), problem)
        for kind in FACT_KINDS:
            entry = getattr(by_kind, kind)
            if entry is None:
                continue
            for lang in LANGUAGES:
                url = entry.source.get(lang)
                assert url is not None  # Urls refuses an empty set of pages
                facts[(intent, kind, lang)] = Fact(intent, kind, lang, getattr(entry, lang), url)
    return facts
