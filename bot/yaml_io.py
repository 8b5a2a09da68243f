"""Reading project YAML files with errors that name the file (and line).

Every file is read within limits, so that a hostile or broken file costs little: at most
MAX_YAML_BYTES, nesting at most MAX_YAML_DEPTH deep, at most MAX_YAML_ALIASES aliases
(`*name`) expanding to at most MAX_YAML_NODES nodes, no recursive alias. Imported data (a
Rasa project from elsewhere) may have no alias at all (`allow_aliases=False`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigFileError

T = TypeVar("T", bound=BaseModel)
Item = TypeVar("Item")

# The largest project file read (data/nlu's biggest is under 100 KB).
MAX_YAML_BYTES = 4 * 1024 * 1024
# Mappings and lists inside each other (routing/units.yml needs 6).
MAX_YAML_DEPTH = 64
# Aliases (`*name`) in one file, and the nodes the whole document has once they are expanded.
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 500_000


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML file beyond the limits of this module (its mark names the line)."""


class _LimitedLoader(yaml.SafeLoader):
    """The safe loader with depth, alias and expansion limits (see the module docstring)."""

    allow_aliases = True

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """A node, refused beyond the depth and alias limits."""
        event = self.peek_event()
        mark = event.start_mark if isinstance(event.start_mark, yaml.Mark) else None
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if not self.allow_aliases:
                raise YamlLimitError(problem=(
                    f"an alias (*{event.anchor}) is not accepted in imported data. Write the "
                    "value out in full where the alias is"), problem_mark=mark)
            if self._aliases > MAX_YAML_ALIASES:
                raise YamlLimitError(problem=(
                    f"more than {MAX_YAML_ALIASES} aliases (*name) in one file. Write the "
                    "values out, or split the file"), problem_mark=mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlLimitError(problem=(
                    f"nested more than {MAX_YAML_DEPTH} levels deep. Flatten the structure"),
                    problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        """The document's root node, refused when its aliases expand too far."""
        node = super().compose_document()
        if node is not None and self._aliases:
            _check_expansion(node)
        return node


class _DataLoader(_LimitedLoader):
    """The limited loader for imported data: no alias at all."""

    allow_aliases = False


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a recursive alias, or aliases that expand to more than MAX_YAML_NODES nodes.

    Each distinct node is visited once (sizes are remembered), so a billion laughs costs
    as many steps as the file has nodes.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, finished = todo.pop()
        key = id(node)
        if finished:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(key)
            if sizes[key] > MAX_YAML_NODES:
                raise YamlLimitError(problem=(
                    f"its aliases expand to more than {MAX_YAML_NODES} values. Write the "
                    "values out, or use fewer aliases"), problem_mark=node.start_mark)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlLimitError(problem="an alias refers to a value that contains it "
                                         "(a recursive alias). Remove the alias",
                                 problem_mark=node.start_mark)
        open_nodes.add(key)
        todo.append((node, True))
        todo.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _read_text(p: Path, error_cls: type[ConfigFileError]) -> str:
    if not p.is_file():
        raise error_cls(p, "file not found. Check the path, or create the file.")
    with p.open("rb") as handle:
        raw = handle.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise error_cls(p, f"the file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MB, "
                           "the most a project file may have. Split it into several files "
                           "(a folder of .yml files is read as one).")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error_cls(p, f"not valid UTF-8 (byte {exc.start}). Save the file as UTF-8.") from exc


def _parse(p: Path, error_cls: type[ConfigFileError], loader: type[_LimitedLoader],
           compose: bool) -> Any:
    text = _read_text(p, error_cls)
    try:
        return yaml.compose(text, Loader=loader) if compose else yaml.load(text, Loader=loader)
    except YamlLimitError as exc:
        mark = exc.problem_mark
        raise error_cls(p, f"{exc.problem} (column {mark.column + 1})" if mark else
                        str(exc.problem), line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error_cls(p, f"invalid YAML{where}: {problem}") from exc
    except RecursionError:  # a guard: the depth limit stops nesting long before this
        raise error_cls(p, f"nested too deep (the limit is {MAX_YAML_DEPTH} levels). "
                           "Flatten the structure.") from None


def read_yaml(path: str | Path, error_cls: type[ConfigFileError] = ConfigFileError, *,
              allow_aliases: bool = True) -> Any:
    """Read one YAML file within this module's limits.

    `allow_aliases=False` (for imported data) refuses every alias.

    Raises:
        ConfigFileError: (or `error_cls`) when the file is missing, too large, not UTF-8,
            not YAML or beyond a limit (naming the line).
    """
    return _parse(Path(path), error_cls, _LimitedLoader if allow_aliases else _DataLoader,
                  compose=False)


def read_yaml_node(path: str | Path, error_cls: type[ConfigFileError] = ConfigFileError, *,
                   allow_aliases: bool = True) -> yaml.Node | None:
    """The composed node tree of one YAML file (with its lines), read as `read_yaml` does.

    Scalars keep the text as written (`yes` stays "yes"). None for an empty file.

    Raises:
        ConfigFileError: (or `error_cls`) as `read_yaml` does.
    """
    node = _parse(Path(path), error_cls, _LimitedLoader if allow_aliases else _DataLoader,
                  compose=True)
    return node if isinstance(node, yaml.Node) else None


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


class Block(str):
    """A string written as a YAML block (`examples: |`)."""


class _SafeDumper(yaml.SafeDumper):
    """The safe dumper, writing `Block` strings as blocks."""


_SafeDumper.add_representer(
    Block, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", str(data),
                                                        style="|"))


def dump_yaml(data: Any) -> str:
    """`data` as block-style YAML, written by the safe dumper.

    Every value is quoted or escaped as YAML needs (never text pasted into YAML); `Block`
    strings become `|` blocks where YAML allows.
    """
    return yaml.dump(data, Dumper=_SafeDumper, allow_unicode=True, sort_keys=False,
                     width=10**6)


def comment_line(text: str) -> str:
    """`text` as one YAML comment line (line breaks and runs of spaces as one space)."""
    return f"# {' '.join(text.split())}\n"


def nlu_yaml(intents: dict[str, list[str]], comment: str) -> str:
    """Rasa NLU YAML of `intents` (name -> examples) with a comment line at the top."""
    return comment_line(comment) + dump_yaml({"version": "3.1", "nlu": [
        {"intent": intent, "examples": Block("".join(f"- {t}\n" for t in texts))}
        for intent, texts in sorted(intents.items())]})


YamlPath = tuple[str | int, ...]


def yaml_lines(path: str | Path) -> dict[YamlPath, int]:
    """The line (from 1) of every key and list item of a YAML file, by its path of keys.

    `("rules", 2, "steps", 0, "intent")` is the line of the first step's `intent:` key of
    the third rule. Read the file with `read_yaml` first: this assumes valid YAML.
    """
    root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=_LimitedLoader)
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
