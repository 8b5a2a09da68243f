"""Intent classifier over sentence embeddings, with temperature-calibrated confidence.

A multinomial logistic regression on L2-normalised embeddings (optionally stacked with
character n-gram TF-IDF features). Confidence is calibrated by temperature scaling fitted
on out-of-fold logits; the same out-of-fold predictions give the training-time quality
report per language, at no extra cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold


@dataclass
class ClassifierOutput:
    """Out-of-fold predictions made while training."""

    oof_probabilities: np.ndarray
    temperature: float


class IntentClassifier:
    """Logistic regression over embeddings, calibrated by temperature scaling."""

    def __init__(self, C: float = 128.0, char_ngrams: bool = False, folds: int = 5,
                 random_state: int = 13) -> None:
        self.C = C
        self.char_ngrams = char_ngrams
        self.folds = folds
        self.random_state = random_state
        self.labels: list[str] = []
        self.temperature = 1.0
        self._model: LogisticRegression | None = None
        self._vectorizer: TfidfVectorizer | None = None

    def _new_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                               sublinear_tf=True, lowercase=True, max_features=60000)

    def _features(self, embeddings: np.ndarray, texts: list[str],
                  vectorizer: TfidfVectorizer | None) -> np.ndarray | sparse.csr_matrix:
        if vectorizer is None:
            return embeddings
        grams = vectorizer.transform(texts) * 0.5
        return sparse.hstack([sparse.csr_matrix(embeddings), grams]).tocsr()

    def _fit_one(self, embeddings: np.ndarray, texts: list[str], y: np.ndarray
                 ) -> tuple[LogisticRegression, TfidfVectorizer | None]:
        vectorizer = None
        if self.char_ngrams:
            vectorizer = self._new_vectorizer().fit(texts)
        model = LogisticRegression(C=self.C, solver="newton-cg", max_iter=3000,
                                   class_weight="balanced")
        model.fit(self._features(embeddings, texts, vectorizer), y)
        return model, vectorizer

    def fit(self, embeddings: np.ndarray, texts: list[str], labels: list[str]
            ) -> ClassifierOutput:
        """Fit on all data; return out-of-fold probabilities used for calibration."""
        self.labels = sorted(set(labels))
        index = {name: i for i, name in enumerate(self.labels)}
        y = np.array([index[name] for name in labels])
        counts = np.bincount(y, minlength=len(self.labels))
        folds = max(2, min(self.folds, int(counts.min())))
        oof_logits = np.zeros((len(y), len(self.labels)))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for train_idx, test_idx in splitter.split(embeddings, y):
            model, vec = self._fit_one(
                embeddings[train_idx], [texts[i] for i in train_idx], y[train_idx]
            )
            logits = model.decision_function(
                self._features(embeddings[test_idx], [texts[i] for i in test_idx], vec)
            )
            full = np.full((len(test_idx), len(self.labels)), -1e4)
            full[:, model.classes_] = logits
            oof_logits[test_idx] = full

        def nll(t: float) -> float:
            return float(-log_softmax(oof_logits / t, axis=1)[np.arange(len(y)), y].mean())

        result = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
        self.temperature = float(result.x)
        self._model, self._vectorizer = self._fit_one(embeddings, texts, y)
        return ClassifierOutput(softmax(oof_logits / self.temperature, axis=1), self.temperature)

    def predict_proba(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, columns in the order of `self.labels`."""
        if self._model is None:
            raise RuntimeError("IntentClassifier.predict_proba called before fit().")
        logits = self._model.decision_function(
            self._features(embeddings, texts, self._vectorizer)
        )
        return softmax(np.atleast_2d(logits) / self.temperature, axis=1)
