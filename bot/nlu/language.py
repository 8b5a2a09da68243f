"""Language identification restricted to Finnish, Swedish and English.

py3langid restricted to fi/sv/en decides longer messages. Short chat messages ("ok",
"kiitos", "tack") are ambiguous or too short for n-gram statistics, so a small lexicon of
chat words decides them, and the conversation's language is kept when neither is sure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.constants import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

# Words that on their own identify the language of a short chat message.
_CHAT_WORDS: dict[str, set[str]] = {
    "fi": {"kiitos", "kiitti", "kiitoksia", "moi", "moikka", "terve", "joo", "juu", "kyllä",
           "ei", "en", "selvä", "näkemiin", "huomenta", "päivää", "heippa", "hyvää", "jep",
           "moro", "sopii", "käy", "apua", "kuulemiin", "iltaa"},
    "sv": {"tack", "tackar", "hej", "hejsan", "ja", "nej", "japp", "okej", "hejdå", "adjö",
           "tjena", "tja", "nä", "jo", "gärna", "god", "morgon", "hjälp", "precis", "svenska",
           "på"},
    "en": {"thanks", "thank", "you", "hello", "hi", "hey", "yes", "no", "yeah", "bye",
           "goodbye", "sure", "please", "cheers", "help", "english", "okay", "the"},
}
# Words shared between languages say nothing on their own.
_AMBIGUOUS = {"ok", "hei", "hej hej", "moi"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass
class LanguageResult:
    """The language of one message and how sure we are."""

    language: str
    confidence: float
    method: str


class LanguageIdentifier:
    """Identify fi/sv/en, falling back to the conversation's language when unsure."""

    def __init__(
        self, languages: tuple[str, ...] = SUPPORTED_LANGUAGES, default: str = DEFAULT_LANGUAGE,
        min_confidence: float = 0.7, short_message_words: int = 3,
    ) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as _LangId

        self.languages = languages
        self.default = default
        self.min_confidence = min_confidence
        self.short_message_words = short_message_words
        self._model = _LangId.from_model_file(MODEL_FILE, norm_probs=True)
        self._model.set_languages(list(languages))

    def _lexicon_vote(self, words: list[str]) -> tuple[str | None, float]:
        scores = {lang: 0 for lang in self.languages}
        for w in words:
            for lang in self.languages:
                if w in _CHAT_WORDS.get(lang, set()):
                    scores[lang] += 1
        best = max(scores, key=lambda k: scores[k])
        ranked = sorted(scores.values(), reverse=True)
        if ranked[0] == 0 or (len(ranked) > 1 and ranked[0] == ranked[1]):
            return None, 0.0
        return best, ranked[0] / max(len(words), 1)

    def identify(self, text: str, previous: str | None = None) -> LanguageResult:
        """Identify the language of `text`; `previous` is the conversation's language."""
        fallback = previous if previous in self.languages else self.default
        words = [w.lower() for w in _WORD.findall(text)]
        if not words:
            return LanguageResult(fallback, 0.0, "fallback")
        if len(words) <= self.short_message_words:
            if " ".join(words) in _AMBIGUOUS:
                return LanguageResult(fallback, 0.5, "fallback")
            lang, share = self._lexicon_vote(words)
            if lang and share >= 0.5:
                return LanguageResult(lang, 0.9, "lexicon")
        lang, prob = self._model.classify(text)
        prob = float(prob)
        if prob >= self.min_confidence or len(words) > self.short_message_words:
            # Long messages: the n-gram model is reliable even with a modest margin.
            if prob >= 0.5 or previous is None:
                return LanguageResult(str(lang), prob, "langid")
        return LanguageResult(fallback, prob, "fallback")
