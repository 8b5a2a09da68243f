"""The trained intent classifier as plain arrays: predicting needs numpy only.

Training uses scikit-learn (bot/nlu/classifier.py); a server only predicts. Importing
scikit-learn and scipy to unpickle the fitted estimators cost a serving process 0.7 s of
start-up and about 100 MB. `CompiledClassifier` holds what prediction reads (the
regression's coefficients, the n-gram vocabulary, IDF weights and naive Bayes
log-probabilities, the temperature) and computes the same probabilities with numpy; a test
checks them against scikit-learn's on every training and held-out text.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

#: scikit-learn's white-space folding before character n-grams (CountVectorizer).
_WHITE_SPACES = re.compile(r"\s\s+")


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """Character n-grams inside word boundaries, each word padded with a space.

    The same n-grams, in the same order, as scikit-learn's `analyzer="char_wb"` with
    `lowercase=True`.
    """
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(min_n, max_n + 1):
            offset = 0
            grams.append(padded[offset:offset + n])
            while offset + n < size:
                offset += 1
                grams.append(padded[offset:offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


class CompiledClassifier:
    """Predicts like a fitted `IntentClassifier`, from arrays saved in one .npz file."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self._arrays = arrays  # what `save` writes
        self.labels: list[str] = [str(s) for s in arrays["labels"]]
        self.temperature = float(arrays["temperature"])
        self._coef = arrays["coef"]
        self._intercept = arrays["intercept"]
        self._weight = float(arrays["char_ngram_weight"])
        self._ngram_range = (int(arrays["ngram_range"][0]), int(arrays["ngram_range"][1]))
        self._idf = arrays["idf"]
        self._log_prob = arrays["log_prob"]
        self._vocabulary = {str(g): i for i, g in enumerate(arrays["vocabulary"])}

    @classmethod
    def from_classifier(cls, classifier: Any) -> CompiledClassifier:
        """The arrays of a fitted `IntentClassifier` (multinomial, three or more intents).

        Raises:
            ValueError: when the classifier is not fitted or saw fewer than three intents
                (a two-class regression keeps one coefficient row; the pickle serves it).
        """
        model = classifier._model
        if model is None:
            raise ValueError("The classifier is not fitted.")
        if model.coef_.shape[0] != len(classifier.labels):
            raise ValueError("Only a multinomial regression over every intent is compiled.")
        arrays: dict[str, np.ndarray] = {
            "labels": np.array(classifier.labels),
            "temperature": np.array(classifier.temperature),
            "coef": model.coef_,  # its own dtype (float32 for float32 embeddings)
            "intercept": model.intercept_,
            "char_ngram_weight": np.array(float(classifier.char_ngram_weight)),
            "ngram_range": np.array([0, 0]),
            "idf": np.zeros(0),
            "log_prob": np.zeros((0, len(classifier.labels))),
            "vocabulary": np.array([], dtype=str),
        }
        if classifier._ngrams is not None:
            vectorizer, log_prob = classifier._ngrams
            if vectorizer.analyzer != "char_wb" or not vectorizer.lowercase or (
                    vectorizer.strip_accents or vectorizer.norm != "l2"
                    or not vectorizer.sublinear_tf):
                raise ValueError("Only the char_wb, l2, sublinear TF-IDF is compiled.")
            grams = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            arrays.update(ngram_range=np.array(vectorizer.ngram_range),
                          idf=vectorizer.idf_.astype(np.float64),
                          log_prob=np.asarray(log_prob, dtype=np.float64),
                          vocabulary=np.array(grams))
        return cls(arrays)

    def save(self, path: Path) -> None:
        """Write the arrays (no pickle: loading runs no code from the file)."""
        np.savez(path, allow_pickle=False, **self._arrays)

    @classmethod
    def load(cls, path: Path) -> CompiledClassifier:
        """Read arrays written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls({name: data[name] for name in data.files})

    def _ngram_scores(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._log_prob.shape[1]))
        for row, text in enumerate(texts):
            counts = Counter(i for g in char_wb_ngrams(text, *self._ngram_range)
                             if (i := self._vocabulary.get(g)) is not None)
            if not counts:
                continue
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
                      + 1.0) * self._idf[index]
            values /= np.sqrt(values @ values)
            out[row] = values @ self._log_prob[index]
        return out

    def predict_proba(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, columns in the order of `self.labels`."""
        scores = _log_softmax(np.atleast_2d(embeddings @ self._coef.T + self._intercept))
        if self._idf.size:
            scores = scores + self._weight * _log_softmax(self._ngram_scores(texts))
        return _softmax(scores / self.temperature)
