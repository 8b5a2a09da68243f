"""`bpbot intent add`: a new kind of enquiry in every file that needs it, in one step.

Adding an intent by hand takes seven edits in six files; missing one leaves an intent that
parses well and is answered "Sorry, I didn't understand". The scaffold writes a TODO example
per language (which `bpbot validate` refuses until real examples replace it), the route,
the domain's intent list and the routing rules. Files are edited as text, so comments and
order stay as the maintainers wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from bot.constants import MIN_EXAMPLES_ROUTABLE
from bot.errors import ConfigFileError
from bot.routing import RoutingTable

TODO = "TODO"
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_INTENT_ITEM = re.compile(r"^(\s*)- intent: (\w+)\s*$")
_LIST_ITEM = re.compile(r"^(\s*)- (\w+)\s*$")


def todo_example(name: str, language: str) -> str:
    """The placeholder example of a new intent (validation refuses it)."""
    return (f"{TODO}: write at least {MIN_EXAMPLES_ROUTABLE[language]} real customer "
            f"messages for {name}")


def add_intent(root: Path, name: str, unit: str, table: RoutingTable) -> list[str]:
    """Add intent `name`, routed to `unit`, to the project at `root`; what was changed.

    Raises:
        ConfigFileError: a bad name, an unknown unit, an intent that exists, or a file
            that does not have the expected shape (naming the file).
    """
    if not _NAME.match(name):
        raise ConfigFileError(root, f"intent name '{name}': expected lower-case letters, "
                                    "digits and '_', starting with a letter")
    if unit not in table.units:
        raise ConfigFileError(root / "routing" / "units.yml", f"unknown unit '{unit}'; "
                              f"known units: {', '.join(sorted(table.units))}")
    if name in table.routes or name in table.conversational:
        raise ConfigFileError(root / "routing" / "routes.yml",
                              f"intent '{name}' is already there")
    changed = []
    for language in ("fi", "sv", "en"):
        path = root / "data" / "nlu" / language / "enquiries.yml"
        text = path.read_text(encoding="utf-8") if path.is_file() else 'version: "3.1"\nnlu:\n'
        block = (f"- intent: {name}\n  examples: |\n"
                 f"    - {todo_example(name, language)}\n")
        path.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
        changed.append(f"{path}: a TODO example")
    routes = root / "routing" / "routes.yml"
    changed.append(_after_last(routes, re.compile(r"^(\s*)- \{intent: \w+, unit: [\w-]+.*\}"),
                               lambda indent: f"{indent}- {{intent: {name}, unit: {unit}}}"))
    changed.append(_into_list(root / "domain.yml", "intents", set(table.routes), name))
    changed += _into_rules(root / "data" / "rules.yml", set(table.routes), name)
    return changed


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _after_last(path: Path, pattern: re.Pattern[str], line_for: Callable[[str], str]) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    matches = [i for i, line in enumerate(lines) if pattern.match(line)]
    if not matches:
        raise ConfigFileError(path, "found no line to add after; add the entry by hand")
    last = matches[-1]
    lines.insert(last + 1, line_for(_indent(lines[last])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"{path}, line {last + 2}: the route"


def _into_list(path: Path, key: str, routable: set[str], name: str) -> str:
    """Add `name` to the top-level list `key`, after its last routable intent."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None:
        raise ConfigFileError(path, f"no '{key}:' list; add '{name}' to it by hand")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i] and not lines[i][0].isspace()), len(lines))
    items = [i for i in range(start + 1, end)
             if (m := _LIST_ITEM.match(lines[i])) and m.group(2) in routable]
    if not items:
        raise ConfigFileError(path, f"'{key}:' lists no routed intent; add '{name}' by hand")
    at = items[-1]
    lines.insert(at + 1, f"{_indent(lines[at])}- {name}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"{path}, line {at + 2}: the intent"


def _into_rules(path: Path, routable: set[str], name: str) -> list[str]:
    """Add `- intent: name` to every 'or:' that lists most routable intents."""
    lines = path.read_text(encoding="utf-8").splitlines()
    groups: list[list[int]] = []
    current: list[int] = []
    for i, line in enumerate(lines):
        m = _INTENT_ITEM.match(line)
        if m and (not current or i == current[-1] + 1):
            current.append(i)
            continue
        if current:
            groups.append(current)
        current = [i] if m else []
    if current:
        groups.append(current)
    wanted = [g for g in groups
              if sum(lines[i].split("intent:")[1].strip() in routable for i in g) * 2
              > len(routable)]
    if not wanted:
        raise ConfigFileError(path, "no rule lists the routable intents under 'or:'; add a "
                                    f"rule whose steps are '- intent: {name}' and "
                                    "'- action: action_route_enquiry'")
    changed = []
    for group in reversed(wanted):  # from the end, so earlier line numbers stay right
        last = group[-1]
        lines.insert(last + 1, f"{_indent(lines[last])}- intent: {name}")
        changed.append(f"{path}, line {last + 2}: the rule's 'or:'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list(reversed(changed))
