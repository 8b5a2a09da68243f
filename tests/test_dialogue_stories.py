import asyncio

import pytest

from bot.dialogue.story_test import load_stories, run_story, write_story_report
from tests.conftest import ROOT

STORIES = load_stories([ROOT / "tests" / "stories"])


def test_dialogue_stories_cover_every_language():
    languages = {s.language for s in STORIES}
    assert languages == {"fi", "sv", "en"}
    per_language = {lang: sum(s.language == lang for s in STORIES) for lang in languages}
    assert len(set(per_language.values())) == 1, per_language


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_dialogue_story(agent, story):
    result = asyncio.run(run_story(agent, story))
    assert result.passed, result.as_dict()


def test_dialogue_story_report_names_the_first_difference(agent, tmp_path):
    story = load_stories([ROOT / "tests" / "stories" / "stories_en.yml"])[0]
    story.steps[0].expected[0] = ("action", "utter_goodbye")
    result = asyncio.run(run_story(agent, story))
    assert not result.passed and result.failed_step == 2
    assert result.expected == {"action": "utter_goodbye"}
    report = write_story_report([result], tmp_path)
    text = report.read_text()
    assert '"failed": 1' in text and "utter_goodbye" in text
