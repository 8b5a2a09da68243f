"""A routing file as read: its data, the line of every key, and errors that name both.

Used only while loading; nothing here runs after `load_routing` returns.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import BotError, RoutingTableError
from bot.routing.schema import LANGUAGE_NAMES
from bot.yaml_io import read_yaml

Loc = tuple[str | int, ...]


class RoutingFileError(RoutingTableError):
    """A RoutingTableError (E003) that also names the line: 'FILE, line N, key K: problem'."""

    def __init__(self, path: str | Path, problem: str, key: str | None = None,
                 line: int | None = None) -> None:
        where = f"{path}" + (f", line {line}" if line else "") + (f", key '{key}'" if key else "")
        BotError.__init__(self, f"{where}: {problem}")
        self.path = str(path)
        self.key = key
        self.line = line


def _lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    """Record the 1-based line of every mapping key and list item under `node`."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (key_node.value,)
            out.setdefault(loc + key, key_node.start_mark.line + 1)
            _lines(value_node, loc + key, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.setdefault(loc + (index,), item.start_mark.line + 1)
            _lines(item, loc + (index,), out)


def _unwrap(tp: Any) -> Any:
    """The model (or container) inside Optional[...] / X | None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else (args[0] if args else tp)
    return tp


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The type that holds the value at `loc` within `model` (None when lost)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found = next((f for name, f in tp.model_fields.items()
                          if part in (name, f.alias)), None)
            if found is None:
                return None
            tp = found.annotation
        elif get_origin(tp) is list and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def _keys_of(tp: Any) -> list[str]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


@dataclass
class Source:
    """One YAML file of the routing table: path, data and key lines."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Source:
        """Read and parse `path` (errors as RoutingTableError naming the file)."""
        data = read_yaml(path, RoutingTableError)
        lines: dict[Loc, int] = {}
        try:
            node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except yaml.YAMLError:  # read_yaml already parsed it; lines are a courtesy
            node = None
        if node is not None:
            _lines(node, (), lines)
        return cls(path, data, lines)

    def line(self, loc: Sequence[str | int]) -> int | None:
        """The line of `loc`, or of its nearest enclosing key."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None

    def label(self, loc: Sequence[str | int]) -> str | None:
        """`loc` as a dotted key, list items named by their id or intent where they have one."""
        out = ""
        node = self.data
        for part in loc:
            if isinstance(node, list) and isinstance(part, int) and part < len(node):
                item = node[part]
                name = (item.get("id") or item.get("intent")) if isinstance(item, dict) else None
                out += f".{name}" if name else f"[{part}]"
                node = item
            else:
                out += f".{part}"
                node = node.get(part) if isinstance(node, dict) else None
        return out.lstrip(".") or None

    def error(self, loc: Sequence[str | int], problem: str) -> RoutingFileError:
        """An error naming this file, the line and the key at `loc`."""
        return RoutingFileError(self.path, problem, self.label(loc), self.line(loc))

    def validate(self, model: type[BaseModel]) -> Any:
        """The file's data as `model`, or RoutingFileError for the first problem."""
        try:
            return model.model_validate(self.data if self.data is not None else {})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
            # Drop parts pydantic adds for unions and validators ('function-after[...]').
            loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p))
            raise self.error(loc, _explain(model, loc, err)) from exc


def _explain(model: type[BaseModel], loc: Loc, err: Any) -> str:
    """What was wrong, what was expected and how to fix it."""
    last = loc[-1] if loc else None
    if err["type"] == "extra_forbidden":
        allowed = _keys_of(_model_at(model, loc[:-1]))
        close = difflib.get_close_matches(str(last), allowed, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (f"unknown key '{last}'. Expected one of: {', '.join(allowed)}.{hint} "
                "Fix the spelling or remove the key.")
    if err["type"] == "missing":
        if last in LANGUAGE_NAMES:
            return (f"the {LANGUAGE_NAMES[str(last)]} text ('{last}') is missing. Every text "
                    "needs fi, sv and en: add it.")
        return f"'{last}' is missing. Add it."
    detail = str(err["msg"]).removeprefix("Value error, ")
    found = err.get("input")
    if found is not None and not isinstance(found, dict | list) and "got " not in detail:
        detail += f" (found {found!r})"
    return detail
