"""Routing quality on labelled enquiries: how many reach the right unit, per language.

A labelled enquiry is one JSON object per line: {"text", "language", "unit"}. Each is
routed as the assistant would route it, and counted as `right` (the expected unit),
`ask` (a clarifying question: not a misroute) or `wrong` (another unit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import LabelledDataError
from bot.service import Router

OUTCOMES = ("right", "ask", "wrong")
ROUTING_REPORT_FILE = "routing_report.json"


@dataclass(frozen=True)
class LabelledEnquiry:
    """One enquiry with the unit it should reach."""

    text: str
    language: str
    unit: str


def load_labelled_enquiries(path: str | Path, known_units: set[str] | None = None
                            ) -> list[LabelledEnquiry]:
    """Read a JSON Lines file of labelled enquiries.

    Raises:
        LabelledDataError: naming the file and line of the first problem.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise LabelledDataError(path, "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledDataError(path, f"cannot read the file as UTF-8 text ({exc})") from exc
    rows: list[LabelledEnquiry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(path, f"{where} is not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise LabelledDataError(path, f"{where}: expected a JSON object, found "
                                          f"{type(obj).__name__}")
        missing = [k for k in ("text", "language", "unit") if not isinstance(obj.get(k), str)]
        if missing:
            raise LabelledDataError(
                path, f"{where}: expected string fields text, language and unit; missing or "
                      f"not a string: {', '.join(missing)}")
        if known_units is not None and obj["unit"] not in known_units:
            raise LabelledDataError(
                path, f"{where}: unknown unit '{obj['unit']}'. Known units: "
                      f"{', '.join(sorted(known_units))}")
        rows.append(LabelledEnquiry(obj["text"], obj["language"], obj["unit"]))
    if not rows:
        raise LabelledDataError(path, "no enquiries found; expected one JSON object per line")
    return rows


def evaluate_routing(router: Router, rows: list[LabelledEnquiry]) -> dict[str, Any]:
    """Route every enquiry and count outcomes per language (and over all languages)."""
    counts: dict[str, dict[str, int]] = {}
    mistakes: list[dict[str, Any]] = []
    for row in rows:
        result = router.route(row.text)
        if result["unit"] == row.unit:
            outcome = "right"
        elif result["needs_clarification"]:
            outcome = "ask"
        else:
            outcome = "wrong"
        for key in ("all", row.language):
            counts.setdefault(key, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
        if outcome != "right":
            mistakes.append({
                "text": row.text, "language": row.language, "expected_unit": row.unit,
                "outcome": outcome, "unit": result["unit"], "intent": result["intent"],
                "confidence": result["confidence"],
                "candidates": [c["unit"] for c in result["candidates"]],
            })
    languages: dict[str, dict[str, Any]] = {}
    for lang, c in counts.items():
        n = sum(c.values())
        languages[lang] = {**{o: round(c[o] / n, 4) for o in OUTCOMES}, "support": n}
    return {"languages": languages, "mistakes": mistakes}


def write_routing_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write routing_report.json into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / ROUTING_REPORT_FILE
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return target
