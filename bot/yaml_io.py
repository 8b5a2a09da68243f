"""Reading project YAML files with errors that name the file (and line)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigFileError

T = TypeVar("T", bound=BaseModel)
Item = TypeVar("Item")


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


def validated(model: type[T], raw: Any, path: str | Path,
              error_cls: type[ConfigFileError] = ConfigFileError, key_prefix: str = "") -> T:
    """Validate `raw` (read from `path`, at `key_prefix` in it) against a pydantic model.

    Raises:
        ConfigFileError: (or `error_cls`) naming the file and the key of the first problem.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = key_prefix + ".".join(str(p) for p in err["loc"]) or None
        found = err.get("input")
        detail = err["msg"]
        if err["type"] == "extra_forbidden":
            detail = "this key is not supported here. Remove it or check its spelling"
        elif found is not None and not isinstance(found, dict | list):
            detail += f" (found {found!r})"
        raise error_cls(path, detail, key) from exc


YamlPath = tuple[str | int, ...]


def yaml_lines(path: str | Path) -> dict[YamlPath, int]:
    """The line (from 1) of every key and list item of a YAML file, by its path of keys.

    `("rules", 2, "steps", 0, "intent")` is the line of the first step's `intent:` key of
    the third rule. Read the file with `read_yaml` first: this assumes valid YAML.
    """
    root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    lines: dict[YamlPath, int] = {}
    todo: list[tuple[yaml.Node, YamlPath]] = [(root, ())] if root is not None else []
    while todo:
        node, here = todo.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*here, str(key.value))
                lines[child] = key.start_mark.line + 1
                todo.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*here, i)] = item.start_mark.line + 1
                todo.append((item, (*here, i)))
    return lines


def line_of(path: str | Path, *keys: str | int) -> int | None:
    """The line of a key or list item of a YAML file (None when it cannot be found)."""
    try:
        return yaml_lines(path).get(tuple(keys))
    except (OSError, yaml.YAMLError):
        return None


def parse_items(path: str | Path, section: str, items: list[Any],
                parse: Callable[[int, Any], Item]) -> list[Item]:
    """`parse(index, item)` for each item of the list `section` of a YAML file.

    A ConfigFileError (or subclass) from `parse` without a line gets the item's line.
    """
    parsed: list[Item] = []
    for i, item in enumerate(items):
        try:
            parsed.append(parse(i, item))
        except ConfigFileError as exc:
            if exc.line is not None:
                raise
            raise type(exc)(path, exc.problem, exc.key, line_of(path, section, i)) from None
    return parsed
