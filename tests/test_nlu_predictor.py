"""The saved classifier predicts with numpy alone, exactly as scikit-learn does."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bot.nlu.predictor import CompiledClassifier, char_wb_ngrams


@pytest.mark.parametrize("text", ["Haluan  vuokrata\tTONTIN!", "a", "", "bygglov för ett lager",
                                  "café's terrace – 20 m²", "x y z"])
def test_char_ngrams_are_scikit_learns(text) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyse = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=True
                              ).build_analyzer()
    assert char_wb_ngrams(text, 2, 5) == analyse(text)


def _texts(root, training_data) -> list[str]:
    texts = [e.text for e in training_data.examples]
    for path in sorted((root / "tests/data/heldout").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines()
                  if line.strip() and "text" in json.loads(line)]
    return texts


def test_saved_model_predicts_like_the_trained_one(root, training_data, trained_model,
                                                   trained_model_dir) -> None:
    from bot.nlu.model import clean_text

    texts = [clean_text(t) for t in _texts(root, training_data)]
    embeddings = trained_model.embedder.encode(texts)
    expected = trained_model.classifier.predict_proba(embeddings, texts)
    compiled = CompiledClassifier.load(trained_model_dir / "predictor.npz")
    got = compiled.predict_proba(embeddings, texts)
    assert compiled.labels == trained_model.classifier.labels
    assert got.shape == expected.shape and len(texts) > 4000
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_a_server_process_does_not_import_scikit_learn_scipy_or_torch(trained_model_dir
                                                                      ) -> None:
    code = (
        "import sys\n"
        "from bot.nlu.model import load_model\n"
        f"m = load_model({str(trained_model_dir)!r})\n"
        "m.parse('Haluan vuokrata tontin Kilpilahdesta')\n"
        "import bot.server.app, bot.agent\n"
        "print(sorted(n for n in ('sklearn', 'scipy', 'torch', 'spacy', 'matplotlib')"
        " if n in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
