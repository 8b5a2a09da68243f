import json

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


def test_cli_route_jsonl(trained_model_dir, root):
    stdin = b"Miten haen terassilupaa?\nkiitos\n" + b"\xff\xfe broken\n" + \
        "Hur ansöker jag om bygglov?\n".encode()
    result = runner.invoke(app, ["route", "--jsonl", "--model", str(trained_model_dir),
                                 "--routing", str(root / "routing")], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["unit"] == "streets" and lines[0]["language"] == "fi"
    for key in ("text", "language", "intent", "confidence", "unit", "needs_clarification",
                "candidates"):
        assert key in lines[0]
    assert lines[1]["intent"] == "thanks" and lines[1]["unit"] is None
    assert "not valid UTF-8" in lines[2]["error"]
    assert lines[3]["unit"] == "building-control" and lines[3]["language"] == "sv"


def test_cli_parse(trained_model_dir):
    result = runner.invoke(app, ["parse", "Y-tunnus 3416721-2", "--model",
                                 str(trained_model_dir)])
    assert result.exit_code == 0
    parsed = json.loads(result.stdout)
    assert parsed["entities"][0]["entity"] == "business_id"


def test_cli_validate(root, monkeypatch):
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output


def test_cli_test_writes_rasa_reports(trained_model_dir, root, tmp_path):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["test", "--model", str(trained_model_dir), "--data",
                                 str(root / "data/nlu/sv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "intent_report.json").read_text())
    assert "accuracy" in report and "macro avg" in report
    assert (out / "intent_report_sv.json").is_file()
    assert (out / "intent_confusion_matrix.png").stat().st_size > 1000
    assert isinstance(json.loads((out / "intent_errors.json").read_text()), list)


@pytest.mark.parametrize("args,needle", [
    (["route", "--jsonl", "--model", "/nonexistent/models"], "bpbot train"),
    (["train", "--config", "/nonexistent/config.yml"], "file not found"),
])
def test_cli_errors_are_clear(args, needle):
    result = runner.invoke(app, args, input=b"")
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_cli_train_and_cross_validation(root, tmp_path):
    data = root / "data/nlu"
    result = runner.invoke(app, ["train", "--config", str(root / "config.yml"), "--data",
                                 str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "m").glob("*/manifest.json"))
    result = runner.invoke(app, ["test", "--cross-validation", "--folds", "3", "--config",
                                 str(root / "config.yml"), "--data", str(data / "en"),
                                 "--out", str(tmp_path / "cv")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "cv/intent_report.json").read_text())["accuracy"] > 0.8


def test_cli_test_writes_routing_report(trained_model_dir, root, tmp_path):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["test", "--model", str(trained_model_dir), "--enquiries",
                                 str(root / "tests/data/heldout/heldout.jsonl"),
                                 "--routing", str(root / "routing"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "right " in result.output and "wrong unit" in result.output
    report = json.loads((out / "routing_report.json").read_text())
    assert set(report["languages"]) == {"all", "fi", "sv", "en"}
    assert not (out / "intent_report.json").exists()
