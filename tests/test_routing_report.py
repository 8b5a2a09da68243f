import json

import pytest

from bot.errors import LabelledDataError
from bot.routing_report import evaluate_routing, load_labelled_enquiries, write_routing_report

UNITS = {"streets", "posintra"}


@pytest.mark.parametrize("content,needle", [
    ("", "no enquiries found"),
    ("not json\n", "line 1 is not JSON"),
    ('[1, 2]\n', "expected a JSON object, found list"),
    ('{"text": "x", "language": "fi"}\n', "missing or not a string: unit"),
    ('{"text": "x", "language": "fi", "units": []}\n', "missing or not a string: unit"),
    ('{"text": "x", "language": "fi", "unit": "moon"}\n', "unknown unit 'moon'"),
])
def test_routing_report_bad_files_name_the_problem(tmp_path, content, needle):
    path = tmp_path / "enquiries.jsonl"
    path.write_text(content)
    with pytest.raises(LabelledDataError, match=needle) as info:
        load_labelled_enquiries(path, UNITS)
    assert str(path) in str(info.value)


def test_routing_report_missing_file(tmp_path):
    with pytest.raises(LabelledDataError, match="file not found"):
        load_labelled_enquiries(tmp_path / "nope.jsonl")


class FixedRouter:
    """Answers from a table: enough to check the counting without a model."""

    def __init__(self, answers):
        self.answers = answers

    def route(self, text):
        unit, ask = self.answers[text]
        return {"unit": unit, "needs_clarification": ask, "intent": "x", "confidence": 0.5,
                "candidates": [{"unit": "streets"}]}


def test_routing_report_counts_right_ask_wrong(tmp_path):
    path = tmp_path / "e.jsonl"
    rows = [{"text": t, "language": lang, "unit": "streets"}
            for t, lang in [("a", "fi"), ("b", "fi"), ("c", "fi"), ("d", "sv")]]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    router = FixedRouter({"a": ("streets", False), "b": (None, True), "c": ("posintra", False),
                          "d": ("streets", False)})
    report = evaluate_routing(router, load_labelled_enquiries(path, UNITS))  # type: ignore[arg-type]
    fi = report["languages"]["fi"]
    assert (fi["right"], fi["ask"], fi["wrong"], fi["support"]) == (0.3333, 0.3333, 0.3333, 3)
    assert report["languages"]["sv"]["right"] == 1.0
    assert report["languages"]["all"]["support"] == 4
    assert [m["outcome"] for m in report["mistakes"]] == ["ask", "wrong"]
    target = write_routing_report(report, tmp_path / "out")
    assert json.loads(target.read_text())["languages"]["fi"]["support"] == 3


class SeveralRouter:
    """Answers with several units (sure and possible), as Router.route does."""

    def route(self, text):
        answers = {
            "both": {"unit": "streets", "units": ["streets", "posintra"]},
            "offer": {"unit": "streets", "possible_units": ["posintra"]},
            "one": {"unit": "streets"},
            "extra": {"unit": "streets", "units": ["streets", "posintra"]},
        }[text]
        return {"needs_clarification": False, "intent": "x", "confidence": 0.9,
                "candidates": [], **answers}


@pytest.mark.parametrize("text,units,outcome", [
    ("both", ["posintra", "streets"], "right"),
    ("offer", ["streets", "posintra"], "offered"),
    ("one", ["streets", "posintra"], "partial"),
    ("extra", ["streets"], "wrong"),
])
def test_routing_report_several_units(tmp_path, text, units, outcome):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"text": text, "language": "en", "units": units,
                                "kind": "two_needs"}) + "\n")
    report = evaluate_routing(SeveralRouter(), load_labelled_enquiries(path, UNITS))  # type: ignore[arg-type]
    assert report["languages"]["en:two_needs"][outcome] == 1.0
