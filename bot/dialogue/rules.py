"""Rasa 3.x rules (`data/rules.yml`) and the rule policy that predicts the next action.

A rule's `intent` and `action` steps must equal the end of the conversation (user intents
and executed actions, `action_listen` left out). `active_loop` and `slot_was_set` steps
check the state right after the step before them; `condition` checks the state before the
rule's first step. The most specific match (the longest matched history) wins; at equal
lengths the rule with more conditions wins, then the rule declared first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bot.dialogue.tracker import ACTION_LISTEN, Turn
from bot.errors import RulesError
from bot.yaml_io import line_of, parse_items, read_yaml, yaml_files

_NO_VALUE = object()
RULE_KEYS = {"rule", "steps", "condition", "conversation_start", "wait_for_user_input",
             "metadata"}


@dataclass
class StateCheck:
    """An `active_loop` or `slot_was_set` step: a check on the state."""

    active_loop: Any = _NO_VALUE  # a loop name, None for "no loop", _NO_VALUE: unchecked
    slots: dict[str, Any] = field(default_factory=dict)  # value _NO_VALUE: "is set"

    def holds(self, slots: dict[str, Any], loop: str | None) -> bool:
        """Whether the state matches."""
        if self.active_loop is not _NO_VALUE and self.active_loop != loop:
            return False
        for name, value in self.slots.items():
            current = slots.get(name)
            if value is _NO_VALUE:
                if current is None:
                    return False
            elif current != value:
                return False
        return True


@dataclass
class Step:
    """An `intent` (one of `names`) or `action` step, with checks on the state after it."""

    kind: str
    names: tuple[str, ...]
    after: list[StateCheck] = field(default_factory=list)

    def matches(self, turn: Turn) -> bool:
        """Whether a turn of the conversation is this step."""
        if turn.kind != self.kind or turn.name not in self.names:
            return False
        return all(check.holds(turn.slots_after, turn.loop_after) for check in self.after)


@dataclass
class Rule:
    """One rule from rules.yml."""

    name: str
    steps: list[Step]
    conditions: list[StateCheck] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    source: str = ""

    @property
    def loop_condition(self) -> str | None:
        """The loop this rule needs to be active (an unhappy path of a form), if any."""
        for cond in self.conditions:
            if isinstance(cond.active_loop, str):
                return cond.active_loop
        return None

    @property
    def intents(self) -> set[str]:
        """Every intent the rule's steps name."""
        return {n for s in self.steps if s.kind == "intent" for n in s.names}

    @property
    def actions(self) -> set[str]:
        """Every action the rule's steps name."""
        return {n for s in self.steps if s.kind == "action" for n in s.names}


@dataclass
class Prediction:
    """The next action and the rule that chose it."""

    action: str
    rule: str
    matched: int
    conditions: int = 0


def _state_check(raw: Any, where: str, path: Path, key: str) -> StateCheck:
    if key == "active_loop":
        return StateCheck(active_loop=raw)
    if not isinstance(raw, list):
        raise RulesError(path, "expected a list of slots ('- slot' or '- slot: value')", where)
    slots: dict[str, Any] = {}
    for item in raw:
        if isinstance(item, str):
            slots[item] = _NO_VALUE
        elif isinstance(item, dict):
            slots.update(item)
        else:
            raise RulesError(path, f"expected a slot name or 'slot: value', found {item!r}",
                             where)
    return StateCheck(slots=slots)


def _parse_steps(raw_steps: Any, where: str, path: Path
                 ) -> tuple[list[StateCheck], list[Step]]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise RulesError(path, "expected a non-empty list of steps", where)
    leading: list[StateCheck] = []
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps):
        here = f"{where}.steps.{i}"
        if not isinstance(raw, dict):
            raise RulesError(path, f"expected a step mapping, found {raw!r}", here)
        keys = set(raw) - {"metadata"}
        if keys == {"intent"} or keys == {"action"}:
            kind = next(iter(keys))
            steps.append(Step(kind, (str(raw[kind]),)))
        elif keys == {"or"}:
            options = raw["or"]
            if not isinstance(options, list) or not all(
                    isinstance(o, dict) and set(o) == {"intent"} for o in options):
                raise RulesError(path, "'or' takes a list of '- intent: name' items", here)
            steps.append(Step("intent", tuple(str(o["intent"]) for o in options)))
        elif keys in ({"active_loop"}, {"slot_was_set"}):
            key = next(iter(keys))
            check = _state_check(raw[key], here, path, key)
            (steps[-1].after if steps else leading).append(check)
        else:
            raise RulesError(
                path, f"unsupported step keys {sorted(keys)}. A rule step is one of intent, "
                "or, action, active_loop, slot_was_set (entities, user text and checkpoints "
                "are not supported in rules)", here)
    return leading, steps


def load_rules(paths: list[str | Path]) -> list[Rule]:
    """Read every `rules:` section in the given files or folders.

    Raises:
        RulesError: naming the file and the rule of the first problem.
    """
    rules: list[Rule] = []
    for path in yaml_files(paths):
        raw = read_yaml(path, RulesError) or {}
        if not isinstance(raw, dict):
            raise RulesError(path, "expected a mapping with 'version' and 'rules'")
        unknown = set(raw) - {"version", "rules", "nlu", "stories"}
        if unknown:
            raise RulesError(path, f"unsupported top-level keys {sorted(unknown)}")
        items = raw.get("rules") or []
        if not isinstance(items, list):
            raise RulesError(path, "'rules' must be a list of '- rule: <name>' items", "rules",
                             line_of(path, "rules"))
        rules += parse_items(path, "rules", items, partial(_rule, path))
    return rules


def _rule(path: Path, i: int, item: Any) -> Rule:
    """One item of a rules file as a Rule.

    Raises:
        RulesError: naming the problem (the caller adds the line).
    """
    where = f"rules.{i}"
    if not isinstance(item, dict) or "rule" not in item:
        raise RulesError(path, "each rule needs 'rule: <name>' and 'steps'", where)
    extra = set(item) - RULE_KEYS
    if extra:
        raise RulesError(path, f"unsupported keys {sorted(extra)}", item["rule"])
    leading, steps = _parse_steps(item.get("steps"), str(item["rule"]), path)
    for c in item.get("condition") or []:
        if not isinstance(c, dict) or set(c) - {"active_loop", "slot_was_set"}:
            raise RulesError(path, "a condition is 'active_loop: name' or "
                             "'slot_was_set: [...]'", f"{item['rule']}.condition")
    conditions = [
        _state_check(c[k], f"{item['rule']}.condition", path, k)
        for c in item.get("condition") or [] for k in c
        if k in ("active_loop", "slot_was_set")
    ]
    if not steps:
        raise RulesError(path, "a rule needs at least one intent or action step",
                         str(item["rule"]))
    return Rule(str(item["rule"]), steps, conditions + leading,
                bool(item.get("conversation_start", False)),
                bool(item.get("wait_for_user_input", True)), str(path))


class RulePolicy:
    """Predicts the next action from rules."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @staticmethod
    def _matches(rule: Rule, steps: list[Step], turns: list[Turn]) -> bool:
        n = len(steps)
        if n > len(turns) or (rule.conversation_start and n != len(turns)):
            return False
        tail = turns[len(turns) - n:]
        if not all(step.matches(turn) for step, turn in zip(steps, tail, strict=True)):
            return False
        if rule.conditions:
            before = turns[len(turns) - n - 1] if len(turns) > n else None
            slots = before.slots_after if before else {}
            loop = before.loop_after if before else None
            return all(c.holds(slots, loop) for c in rule.conditions)
        return True

    def predict(self, turns: list[Turn], *, only: list[Rule] | None = None,
                must_cover_latest_intent: bool = False) -> Prediction | None:
        """The next action by the most specific matching rule, or None.

        Args:
            turns: the conversation so far (`DialogueTracker.turns()`).
            only: consider only these rules.
            must_cover_latest_intent: the match must include the latest user intent
                (used while a form is active: only rules written for the message count).
        """
        best: Prediction | None = None
        latest_user = max((i for i, t in enumerate(turns) if t.kind == "intent"), default=-1)
        for rule in only if only is not None else self.rules:
            for k in range(len(rule.steps) + 1):
                if k < len(rule.steps) and rule.steps[k].kind != "action":
                    continue
                if k == 0:
                    continue
                if k == len(rule.steps) and not rule.wait_for_user_input:
                    continue
                prefix = rule.steps[:k]
                if must_cover_latest_intent and len(prefix) < len(turns) - latest_user:
                    continue
                if not self._matches(rule, prefix, turns):
                    continue
                action = rule.steps[k].names[0] if k < len(rule.steps) else ACTION_LISTEN
                # Longer matches win; at equal length, the rule with more conditions (the
                # one written for this state, e.g. for an active form); then the first.
                if best is None or (k, len(rule.conditions)) > (best.matched,
                                                                best.conditions):
                    best = Prediction(action, rule.name, k, len(rule.conditions))
        return best
