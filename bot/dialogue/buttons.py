"""Typed replies to buttons: "kyllä kiitos" after [Kyllä, välitä] [Ei kiitos] is a click.

A customer who types instead of clicking writes the button's title, a word of it, or a
word that means the same ("Hyväksyn", "joo lähetä vaan", "ja tack", "Send it"), with or
without diacritics, in any case, with a small typo and polite words around it. The words
per payload intent and language come from `data/buttons.yml` (city-editable content).

A reply matches a button when every word of it (politeness words left out) is a word of
that button's title or of its synonyms, and of no other button; or when the whole reply
equals a title or a synonym phrase. Anything else goes to the NLU.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.constants import SUPPORTED_LANGUAGES
from bot.errors import ConfigFileError
from bot.yaml_io import read_yaml, validated

# Two words this similar are the same word typed with a slip ("laheta", "hyvaksy").
MIN_WORD_SIMILARITY = 0.8
# Shorter words must match exactly: "ei" and "en" are different answers.
MIN_FUZZY_WORD_CHARS = 4
MAX_REPLY_WORDS = 8
# The payload intent whose words mean yes (a yes to a single button clicks it).
YES = "affirm"


class _LanguageWords(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fi: list[str] = Field(default_factory=list, title="Finnish words and phrases")
    sv: list[str] = Field(default_factory=list, title="Swedish words and phrases")
    en: list[str] = Field(default_factory=list, title="English words and phrases")


class ButtonWordsFile(BaseModel):
    """data/buttons.yml."""

    model_config = ConfigDict(extra="forbid")

    version: int | str = 1
    negations: _LanguageWords = Field(default_factory=_LanguageWords,
                                      title="Words that make a reply a no")
    politeness: _LanguageWords = Field(default_factory=_LanguageWords,
                                       title="Words that never decide (please, thanks)")
    synonyms: dict[str, _LanguageWords] = Field(
        default_factory=dict, title="Per payload intent: what a customer types for it")


_REPEATED = re.compile(r"(.)\1{2,}")


def normalise(text: str) -> str:
    """Lower case, no diacritics, punctuation as spaces, no stretched letters.

    "Lähetä!" -> "laheta", "Nooo" -> "no", "don't" -> "don t".
    """
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _REPEATED.sub(r"\1", plain)
    return " ".join("".join(ch if ch.isalnum() else " " for ch in plain).split())


def _words(text: str) -> list[str]:
    return normalise(text).split()


def _same_word(typed: str, known: str) -> bool:
    if typed == known:
        return True
    if min(len(typed), len(known)) < MIN_FUZZY_WORD_CHARS:
        return False
    return difflib.SequenceMatcher(None, typed, known).ratio() >= MIN_WORD_SIMILARITY


def payload_intent(payload: str) -> str:
    """The intent of a payload: "/affirm" -> "affirm", '/correct{"field": ...}' -> "correct"."""
    name = payload.lstrip("/")
    return name.split("{", 1)[0].strip()


@dataclass
class ButtonWords:
    """Synonyms of button payload intents and politeness words, per language."""

    politeness: dict[str, set[str]] = field(default_factory=dict)
    synonyms: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    negations: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> ButtonWords:
        """Read `data/buttons.yml`; a missing file means titles only.

        Raises:
            ConfigFileError: naming the file and key of a mistake.
        """
        if path is None or not Path(path).is_file():
            return cls()
        spec = validated(ButtonWordsFile, read_yaml(path, ConfigFileError), path)
        politeness = {lang: {w for p in getattr(spec.politeness, lang) for w in _words(p)}
                      for lang in SUPPORTED_LANGUAGES}
        synonyms = {intent: {lang: [normalise(p) for p in getattr(words, lang)]
                             for lang in SUPPORTED_LANGUAGES}
                    for intent, words in spec.synonyms.items()}
        negations = {lang: {" ".join(_words(p)) for p in getattr(spec.negations, lang)}
                     for lang in SUPPORTED_LANGUAGES}
        return cls(politeness, synonyms, negations)

    def says_yes(self, text: str, lang: str) -> bool:
        """Whether a reply holds a yes-word of `lang` (and no negation)."""
        if self.negated(text, lang):
            return False
        yes = self._yes_words(lang) | set(self.synonyms.get(YES, {}).get(lang, []))
        typed = normalise(text)
        return typed in yes or any(w in yes or any(
            _same_word(w, y) for y in yes) for w in typed.split())

    def negated(self, text: str, lang: str) -> bool:
        """Whether a reply says no somewhere ("skicka int", "don't send")."""
        typed = f" {normalise(text)} "
        return any(f" {n} " in typed for n in self.negations.get(lang, set()))

    def _phrases(self, button: dict[str, Any], lang: str) -> list[str]:
        phrases = [normalise(str(button.get("title") or ""))]
        payload = str(button.get("payload") or "")
        for key in (payload, payload_intent(payload)):
            phrases += self.synonyms.get(key, {}).get(lang, [])
        return [p for p in phrases if p]

    def _yes_words(self, lang: str) -> set[str]:
        return {w for p in self.synonyms.get(YES, {}).get(lang, []) for w in p.split()}

    def match(self, text: str, buttons: list[dict[str, Any]], lang: str
              ) -> dict[str, Any] | None:
        """The button that a typed reply means, or None."""
        typed = normalise(text)
        if not typed or not buttons:
            return None
        if len(buttons) == 1 and payload_intent(str(buttons[0].get("payload"))) != YES:
            # One button offered ("Pass it to a person"): a yes is a click on it.
            yes = {"title": buttons[0].get("title"), "payload": f"/{YES}"}
            if self.match(text, [yes], lang) is not None:
                return buttons[0]
        phrases = [self._phrases(b, lang) for b in buttons]
        if self.negated(text, lang):  # a no is never a yes, whatever else it says
            phrases = [[] if payload_intent(str(b.get("payload"))) == YES else ps
                       for b, ps in zip(buttons, phrases, strict=True)]
        exact = [b for b, ps in zip(buttons, phrases, strict=True) if typed in ps]
        if len(exact) == 1:
            return exact[0]
        polite = self.politeness.get(lang, set())
        vocab = [{w for p in ps for w in p.split()} for ps in phrases]
        # "joo molemmat": a yes-word that is no offered button's only says the choice is meant
        unowned_yes = self._yes_words(lang) - set().union(*vocab)
        words = [w for w in typed.split() if w not in polite]
        if any(w not in unowned_yes for w in words):
            words = [w for w in words if w not in unowned_yes]
        if not words or len(words) > MAX_REPLY_WORDS:
            return None
        found: set[int] = set()
        for word in words:
            # A word that is a whole title or synonym decides before one inside a phrase
            # ("lähetä" is affirm's, though "älä lähetä" is stop's).
            owners = {i for i, ps in enumerate(phrases) if word in ps}
            if not owners:
                owners = {i for i, known in enumerate(vocab) if word in known}
            if not owners:
                owners = {i for i, known in enumerate(vocab)
                          if any(_same_word(word, k) for k in known)}
            if len(owners) != 1:
                return None  # a word of no button, or of two: let the NLU read it
            found |= owners
        return buttons[found.pop()] if len(found) == 1 else None

    def match_any(self, text: str, buttons: list[dict[str, Any]], lang: str
                  ) -> dict[str, Any] | None:
        """Like `match`, in the conversation's language first, then in the other two.

        "ja tack" is a yes also in a conversation that the bot still thinks is Finnish.
        """
        for code in [lang, *_other_languages(lang)]:
            found = self.match(text, buttons, code)
            if found is not None:
                return found
        return None


def _other_languages(lang: str) -> list[str]:
    return [code for code in SUPPORTED_LANGUAGES if code != lang]


def offered_buttons(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The buttons of the bot's messages since the customer's latest message."""
    buttons: list[dict[str, Any]] = []
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            break
        if kind == "bot":
            buttons = list((event.get("data") or {}).get("buttons") or []) + buttons
    return buttons
