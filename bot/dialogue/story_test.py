"""Conversation tests in Rasa's test-story format (`tests/stories/*.yml`).

Each `user:` step is sent through the whole agent (NLU, rules, actions, store). The steps
after it (`intent`, `action`, `slot_was_set`, `active_loop`) must be what happened; the
first difference is reported with the step number, what was expected and what happened.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bot.agent import Agent
from bot.dialogue.tracker import ACTION_LISTEN
from bot.errors import ConfigFileError
from bot.yaml_io import line_of, parse_items, read_yaml, yaml_files

STORY_REPORT_FILE = "story_report.json"
_STEP_KEYS = {"user", "intent", "action", "slot_was_set", "active_loop", "bot", "metadata"}


@dataclass
class StoryStep:
    """One user message and what must follow it."""

    user: str
    intent: str | None
    expected: list[tuple[str, Any]] = field(default_factory=list)  # ("action", name), ...


@dataclass
class Story:
    """A test story."""

    name: str
    language: str | None
    steps: list[StoryStep]
    source: str


@dataclass
class StoryResult:
    """The outcome of one story."""

    story: str
    language: str | None
    passed: bool
    failed_step: int | None = None
    expected: Any = None
    actual: Any = None
    source: str = ""
    transcript: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The entry in story_report.json."""
        out: dict[str, Any] = {"story": self.story, "language": self.language,
                               "passed": self.passed, "source": self.source}
        if not self.passed:
            out["first_failure"] = {"step": self.failed_step, "expected": self.expected,
                                    "actual": self.actual}
            out["transcript"] = self.transcript
        return out


def load_stories(paths: list[str | Path]) -> list[Story]:
    """Read the `stories:` of every file.

    Raises:
        ConfigFileError: naming the file and story of the first problem.
    """
    stories: list[Story] = []
    for path in yaml_files(paths):
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigFileError(path, "expected a mapping with 'version' and 'stories'")
        items = raw.get("stories")
        if items is None:
            continue  # a file of rules or NLU data beside the stories
        if not isinstance(items, list):
            raise ConfigFileError(path, "'stories' must be a list of '- story: <name>' items "
                                        "with 'steps'", "stories", line_of(path, "stories"))
        stories += parse_items(path, "stories", items, partial(_story, path))
    return stories


def _story(path: Path, i: int, item: Any) -> Story:
    """One item of a stories file.

    Raises:
        ConfigFileError: naming the problem (the caller adds the line).
    """
    if not isinstance(item, dict) or not isinstance(item.get("steps"), list):
        raise ConfigFileError(path, "each story needs 'story: <name>' and a list of "
                                    "'steps'", f"stories.{i}")
    name = str(item.get("story") or f"stories.{i}")
    metadata = item.get("metadata") or {}
    steps: list[StoryStep] = []
    for j, step in enumerate(item.get("steps") or []):
        where = f"{name}.steps.{j}"
        if not isinstance(step, dict) or set(step) - _STEP_KEYS:
            raise ConfigFileError(path, f"unsupported step {step!r}; expected user "
                                  "(with optional intent), action, slot_was_set or "
                                  "active_loop", where)
        if "user" in step:
            steps.append(StoryStep(str(step["user"]).strip(), step.get("intent")))
            continue
        if not steps:
            raise ConfigFileError(path, "a story starts with a user step", where)
        if "action" in step:
            steps[-1].expected.append(("action", str(step["action"])))
        elif "slot_was_set" in step:
            for slot in step["slot_was_set"]:
                pair = (next(iter(slot.items())) if isinstance(slot, dict)
                        else (slot, ...))
                steps[-1].expected.append(("slot", pair))
        elif "active_loop" in step:
            steps[-1].expected.append(("active_loop", step["active_loop"]))
        elif "intent" in step:
            raise ConfigFileError(path, "'intent' belongs to a user step", where)
    return Story(name, metadata.get("language"), steps, str(path))


def _actions_after_user(agent: Agent, sender: str) -> tuple[list[str], Any]:
    tracker = agent.tracker(sender)
    executed = [str(e["name"]) for e in tracker.events_after_latest_user()
                if e.get("event") == "action" and e.get("name") != ACTION_LISTEN]
    return executed, tracker


async def run_story(agent: Agent, story: Story) -> StoryResult:
    """Play one story in a fresh conversation."""
    sender = f"story-{uuid.uuid4().hex[:12]}"
    transcript: list[str] = []
    number = 0
    for step in story.steps:
        number += 1
        messages = await agent.handle_message(sender, step.user, input_channel="story")
        transcript.append(f"user: {step.user}")
        transcript += [f"bot: {m.get('text')}" for m in messages]
        executed, tracker = _actions_after_user(agent, sender)
        if step.intent is not None and tracker.latest_intent != step.intent:
            return StoryResult(story.name, story.language, False, number,
                               {"intent": step.intent}, {"intent": tracker.latest_intent},
                               story.source, transcript)
        expected_actions = [value for kind, value in step.expected if kind == "action"]
        for offset, (want, got) in enumerate(zip(expected_actions, executed + [None] * len(
                expected_actions), strict=False)):
            if want != got:
                return StoryResult(story.name, story.language, False, number + offset + 1,
                                   {"action": want}, {"actions": executed}, story.source,
                                   transcript)
        for kind, value in step.expected:
            if kind == "slot":
                slot, wanted = value
                actual = tracker.get_slot(slot)
                ok = actual is not None if wanted is ... else actual == wanted
                if not ok:
                    return StoryResult(story.name, story.language, False, number,
                                       {"slot": {slot: "<any>" if wanted is ... else wanted}},
                                       {"slot": {slot: actual}}, story.source, transcript)
        loops = [value for kind, value in step.expected if kind == "active_loop"]
        if loops and tracker.active_loop != loops[-1]:
            return StoryResult(story.name, story.language, False, number,
                               {"active_loop": loops[-1]}, {"active_loop": tracker.active_loop},
                               story.source, transcript)
        number += len(step.expected)
    return StoryResult(story.name, story.language, True, source=story.source,
                       transcript=transcript)


async def run_stories(agent: Agent, stories: list[Story]) -> list[StoryResult]:
    """Play every story."""
    return [await run_story(agent, story) for story in stories]


def write_story_report(results: list[StoryResult], out_dir: str | Path) -> Path:
    """Write story_report.json: one entry per story."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / STORY_REPORT_FILE
    passed = sum(r.passed for r in results)
    target.write_text(json.dumps({"passed": passed, "failed": len(results) - passed,
                                  "stories": [r.as_dict() for r in results]},
                                 indent=2, ensure_ascii=False))
    return target
