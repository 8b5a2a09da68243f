"""Reading project YAML files with errors that name the file (and line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigFileError


def read_yaml(path: str | Path, error_cls: type[ConfigFileError] = ConfigFileError) -> Any:
    """Read one YAML file.

    Raises:
        ConfigFileError: (or `error_cls`) when the file is missing, not UTF-8 or not YAML.
    """
    p = Path(path)
    if not p.is_file():
        raise error_cls(p, "file not found. Check the path, or create the file.")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error_cls(p, f"not valid UTF-8 (byte {exc.start}). Save the file as UTF-8.") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error_cls(p, f"invalid YAML{where}: {problem}") from exc


def yaml_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a sorted list of .yml/.yaml files.

    Raises:
        ConfigFileError: when a path does not exist.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.suffix in {".yml", ".yaml"}))
        elif p.is_file():
            found.append(p)
        else:
            raise ConfigFileError(p, "no such file or folder. Check the path.")
    return found
