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
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from bot.errors import InvalidModelError, ModelArraysError

#: scikit-learn's white-space folding before character n-grams (CountVectorizer).
_WHITE_SPACES = re.compile(r"\s\s+")

# What a predictor.npz may hold, checked from the arrays' headers before any is read (the
# project's model is about 10 MB: 44 intents, 384 dimensions, 26,000 n-grams).
#: The most bytes all arrays may take once loaded (and the file on disk).
MAX_PREDICTOR_BYTES = 256 * 2**20
MAX_INTENTS = 5_000
MAX_EMBEDDING_DIM = 8_192
MAX_VOCABULARY = 5_000_000
MAX_LABEL_CHARS = 128
MAX_NGRAM_CHARS = 32
#: numpy's own limit on an array header (a longer one is not ours).
MAX_HEADER_BYTES = 10_000
#: Each array: its shape (numbers, or a name that must mean the same size in every array)
#: and the kinds of dtype it may have (f: float, i/u: integer, U: text).
ARRAYS: dict[str, tuple[tuple[int | str, ...], str]] = {
    "labels": (("intents",), "U"),
    "temperature": ((), "f"),
    "coef": (("intents", "dim"), "f"),
    "intercept": (("intents",), "f"),
    "char_ngram_weight": ((), "f"),
    "ngram_range": ((2,), "iu"),
    "idf": (("ngrams",), "f"),
    "log_prob": (("ngrams", "intents"), "f"),
    "vocabulary": (("ngrams",), "U"),
}
_SIZE_LIMITS = {"intents": MAX_INTENTS, "dim": MAX_EMBEDDING_DIM, "ngrams": MAX_VOCABULARY}
_TEXT_CHARS = {"labels": MAX_LABEL_CHARS, "vocabulary": MAX_NGRAM_CHARS}


@dataclass(frozen=True)
class ArrayHeader:
    """What a .npy header inside the archive says of its array (nothing is read yet)."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def nbytes(self) -> int:
        """The bytes the array takes once loaded."""
        count = 1
        for size in self.shape:
            count *= size
        return count * self.dtype.itemsize


class _Bounded:
    """A file that refuses to give more than `limit` bytes (a header claiming 4 GB)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            raise ValueError(f"an array header longer than {MAX_HEADER_BYTES} bytes")
        self._left -= size
        return self._raw.read(size)


def read_header(raw: IO[bytes]) -> ArrayHeader:
    """The shape and dtype of the .npy array that `raw` starts with, reading only its header.

    Raises:
        ValueError: not a .npy header of version 1 or 2 numpy writes without pickles.
    """
    fp = _Bounded(raw, MAX_HEADER_BYTES + 16)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(
            fp, max_header_size=MAX_HEADER_BYTES)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(
            fp, max_header_size=MAX_HEADER_BYTES)
    else:
        raise ValueError(f"an array of .npy version {version}")
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ValueError(f"an array of shape {shape!r}")
    return ArrayHeader(shape, np.dtype(dtype))


def check_headers(headers: dict[str, ArrayHeader], *, intents: int | None = None,
                  dim: int | None = None, max_bytes: int = MAX_PREDICTOR_BYTES) -> str | None:
    """What is wrong with these arrays for a classifier, or None when nothing is.

    `intents` and `dim` (from the manifest) pin those sizes; the others are bounded.
    """
    if set(headers) != set(ARRAYS):
        return (f"it holds the arrays {sorted(headers)}, not {sorted(ARRAYS)}")
    sizes: dict[str, int] = {}
    if intents is not None:
        sizes["intents"] = intents
    if dim is not None:
        sizes["dim"] = dim
    for name, (shape, kinds) in ARRAYS.items():
        header = headers[name]
        if header.dtype.hasobject or header.dtype.kind not in kinds:
            return f"array '{name}' has dtype {header.dtype.str}, not one of kind {kinds!r}"
        limit = 4 * _TEXT_CHARS[name] if header.dtype.kind == "U" else 8
        if header.dtype.itemsize > limit:
            return f"array '{name}' has items of {header.dtype.itemsize} bytes (at most {limit})"
        if len(header.shape) != len(shape):
            return f"array '{name}' has shape {header.shape}, not {len(shape)} dimension(s)"
        for axis, (want, got) in enumerate(zip(shape, header.shape, strict=True)):
            if isinstance(want, int):
                expected = want
            else:
                expected = sizes.setdefault(want, got)
                if got > _SIZE_LIMITS[want]:
                    return (f"array '{name}' has {got} {want} (axis {axis}; at most "
                            f"{_SIZE_LIMITS[want]})")
            if got != expected:
                return (f"array '{name}' has {got} along axis {axis} where {expected} "
                        f"{want if isinstance(want, str) else ''} were expected".rstrip())
    total = sum(h.nbytes for h in headers.values())
    if total > max_bytes:
        return f"its arrays would take {total} bytes (at most {max_bytes})"
    return None


@contextmanager
def _archive(path: Path, max_bytes: int) -> Iterator[zipfile.ZipFile]:
    """The .npz archive at `path`; any failure to read it names the model folder."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelArraysError(path.parent, f"{path.name} has {size} bytes (at most "
                                                f"{max_bytes})")
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidModelError(path.parent, f"{path.name}: {type(exc).__name__}: {exc}"
                                ) from exc


def _checked(archive: zipfile.ZipFile, path: Path, intents: int | None, dim: int | None,
             max_bytes: int) -> None:
    """Refuse the archive unless its headers are a classifier's (`check_headers`)."""
    names = archive.namelist()
    if len(names) != len(set(names)) or len(names) > len(ARRAYS):
        raise ModelArraysError(path.parent, f"{path.name} has {len(names)} entries "
                                            f"({len(set(names))} names)")
    headers: dict[str, ArrayHeader] = {}
    for name in names:
        with archive.open(name) as raw:
            headers[name.removesuffix(".npy")] = read_header(raw)
    problem = check_headers(headers, intents=intents, dim=dim, max_bytes=max_bytes)
    if problem is not None:
        raise ModelArraysError(path.parent, f"{path.name}: {problem}")


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
        """Write the arrays to `path` (no pickle: loading runs no code from the file)."""
        with open(path, "wb") as fh:
            np.savez(fh, allow_pickle=False, **self._arrays)

    @staticmethod
    def check(path: Path, *, intents: int | None = None, dim: int | None = None,
              max_bytes: int = MAX_PREDICTOR_BYTES) -> None:
        """Check the arrays' headers as `load` does, reading no array.

        Raises:
            ModelArraysError: arrays that are not a classifier's, or too large.
            InvalidModelError: a file that is no readable archive of arrays.
        """
        with _archive(path, max_bytes) as archive:
            _checked(archive, path, intents, dim, max_bytes)

    @classmethod
    def load(cls, path: Path, *, intents: int | None = None, dim: int | None = None,
             max_bytes: int = MAX_PREDICTOR_BYTES) -> CompiledClassifier:
        """Read arrays written by `save`, once their headers say they are a classifier's.

        Every array's shape and dtype are checked (`check_headers`: `intents` and `dim`
        from the manifest, bounded sizes, no objects) before any array is read, so a file
        claiming a huge array is refused without allocating it; arrays load without pickle.

        Raises:
            ModelArraysError: arrays that are not a classifier's, or too large (the folder
                named).
            InvalidModelError: a file that is no readable archive of arrays.
        """
        with _archive(path, max_bytes) as archive:
            _checked(archive, path, intents, dim, max_bytes)
            arrays = {}
            for name in archive.namelist():
                with archive.open(name) as raw:
                    arrays[name.removesuffix(".npy")] = np.lib.format.read_array(
                        raw, allow_pickle=False)
        return cls(arrays)

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
