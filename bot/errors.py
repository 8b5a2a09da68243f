"""All user-facing engine errors, each with a code and a message that says how to fix it."""

from __future__ import annotations

from pathlib import Path


class BotError(Exception):
    """Base class: `code` identifies the error in logs and docs."""

    code = "E000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class ConfigFileError(BotError):
    """A project file (YAML) is missing, unreadable or invalid."""

    code = "E001"

    def __init__(self, path: str | Path, problem: str, key: str | None = None,
                 line: int | None = None) -> None:
        where = f"{path}" + (f", line {line}" if line else "") + (f", key '{key}'" if key else "")
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.key = key
        self.line = line
        self.problem = problem


class TrainingDataError(ConfigFileError):
    """Rasa NLU training data that cannot be read."""

    code = "E002"


class RoutingTableError(ConfigFileError):
    """The routing table in routing/*.yml is invalid."""

    code = "E003"


class UnknownComponentError(BotError):
    """A pipeline component named in config.yml does not exist."""

    code = "E004"

    def __init__(self, name: str, available: list[str], hint: str = "") -> None:
        super().__init__(
            f"No pipeline component '{name}' found. "
            f"Available names: {', '.join(sorted(available))}.{hint}"
        )


class ModelNotFoundError(BotError):
    """No trained model where one was expected."""

    code = "E005"

    def __init__(self, where: str | Path) -> None:
        super().__init__(
            f"No trained model found in '{where}'. Run `bpbot train` first, or pass --model DIR."
        )


class InvalidModelError(BotError):
    """A model directory exists but cannot be loaded."""

    code = "E006"

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"Model '{path}' cannot be loaded: {problem}. Retrain with `bpbot train`.")


class EmbedderError(BotError):
    """The sentence embedder cannot be created or used."""

    code = "E007"


class InvalidInputError(BotError):
    """Input that the NLU cannot parse (wrong type, undecodable bytes)."""

    code = "E008"


class LabelledDataError(ConfigFileError):
    """A JSON Lines file of labelled enquiries (for the routing report) is invalid."""

    code = "E009"


class DomainError(ConfigFileError):
    """domain.yml is invalid or uses a Rasa key this engine does not support."""

    code = "E010"


class RulesError(ConfigFileError):
    """data/rules.yml (Rasa rules) is invalid or uses an unsupported step."""

    code = "E011"


class ActionNotFoundError(BotError):
    """The dialogue predicted an action that is neither built in nor registered."""

    code = "E012"

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"No registered action found for name '{name}'. Available custom actions: "
            f"{', '.join(sorted(available)) or 'none'}. Add it under actions/ or to "
            "'actions' in domain.yml."
        )
        self.name = name


class ActionServerError(BotError):
    """A custom action failed, in-process or on the action server."""

    code = "E013"


class ServerBusyError(BotError):
    """The request could not be served in time (a busy conversation or database): retry."""

    code = "E014"

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SchemaOutdatedError(BotError):
    """The database schema is not the one this version needs (older, or newer).

    Production does not migrate at start: `bpbot db upgrade` does.
    """

    code = "E016"


class StoreUnavailableError(ServerBusyError):
    """The database cannot be written or reached (read-only, full disk, down)."""

    code = "E015"

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message, retry_after_s)


class ModelFormatError(InvalidModelError):
    """A model folder whose manifest names no format, or one this version does not load."""

    code = "E030"

    def __init__(self, path: str | Path, found: object, fix: str) -> None:
        BotError.__init__(self, f"Model '{path}' has {found}; this version loads only model "
                                f"format 4 (arrays, no code). {fix}")
        self.path = str(path)


class ModelArraysError(InvalidModelError):
    """A model's predictor.npz holds arrays of a kind, shape or size a model never has."""

    code = "E031"

    def __init__(self, path: str | Path, problem: str) -> None:
        BotError.__init__(self, f"Model '{path}' is refused before loading: {problem}. A "
                                "model trained by `bpbot train` never looks like this: train "
                                "a new one, and find out who wrote this folder.")
        self.path = str(path)


class ModelDigestError(InvalidModelError):
    """A model folder that is not the one recorded at its promotion (changed or swapped)."""

    code = "E032"

    def __init__(self, path: str | Path, expected: str | None, found: str) -> None:
        if expected is None:
            problem = ("it was promoted before digests were recorded; promote it again "
                       f"(`bpbot models promote {Path(path).name}`) to record its digest")
        else:
            problem = (f"its files (sha256 {found[:12]}...) are not the ones recorded at its "
                       f"promotion ({expected[:12]}...): the folder was changed or replaced. "
                       "Copy the promoted folder back, or promote another model")
        BotError.__init__(self, f"Model '{path}' is refused: {problem}.")
        self.path = str(path)


class NoLiveModelError(BotError):
    """No model may be loaded: nothing promoted, or no promoted model loads, and none given."""

    code = "E033"

    def __init__(self, models_dir: str | Path, problems: list[str] | None = None) -> None:
        if problems:
            why = "no promoted model can be loaded (" + "; ".join(problems) + ")"
        else:
            why = "no model has been promoted in this database yet"
        super().__init__(
            f"Not starting: {why}. Run `bpbot models promote ID` (`bpbot models list` shows "
            f"the models in {models_dir}/), or name one model folder with --model DIR or "
            "BPBOT_MODELS_PATH=DIR.")
        self.problems = problems or []


class PromotionError(BotError):
    """A promotion or rollback the registry refuses (the model would not load, or none)."""

    code = "E034"
