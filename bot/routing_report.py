"""Routing quality on labelled enquiries: how many reach the right unit, per language.

A labelled enquiry is one JSON object per line: {"text", "language", "unit"}, or with
"units": [...] for a message with several needs, and optionally "kind" (long, spoken,
two_needs ...). Each is routed as the assistant would route a first message, and counted as
`right` (exactly the expected units), `offered` (the expected units once the customer
clicks "forward both" for a possible second need), `ask` (a clarifying question: not a
misroute), `partial` (some of the expected units, none other) or `wrong` (a unit not
expected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import LabelledDataError
from bot.service import Router

OUTCOMES = ("right", "offered", "ask", "partial", "wrong")
ROUTING_REPORT_FILE = "routing_report.json"


@dataclass(frozen=True)
class LabelledEnquiry:
    """One enquiry with the unit(s) it should reach."""

    text: str
    language: str
    units: tuple[str, ...]
    kind: str | None = None

    @property
    def unit(self) -> str:
        """The first unit (the only one for most enquiries)."""
        return self.units[0]


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
        units: Any = obj.get("units") if "units" in obj else [obj.get("unit")]
        missing = [k for k in ("text", "language") if not isinstance(obj.get(k), str)]
        if not isinstance(units, list) or not units or not all(
                isinstance(u, str) for u in units):
            missing.append("unit (or units: a list of unit ids)")
        if missing:
            raise LabelledDataError(
                path, f"{where}: expected string fields text, language and unit (or a list "
                      f"'units'); missing or not a string: {', '.join(missing)}")
        unknown = [u for u in units if known_units is not None and u not in known_units]
        if unknown:
            raise LabelledDataError(
                path, f"{where}: unknown unit '{unknown[0]}'. Known units: "
                      f"{', '.join(sorted(known_units or []))}")
        kind = obj.get("kind") if isinstance(obj.get("kind"), str) else None
        rows.append(LabelledEnquiry(obj["text"], obj["language"], tuple(units), kind))
    if not rows:
        raise LabelledDataError(path, "no enquiries found; expected one JSON object per line")
    return rows


def evaluate_routing(router: Router, rows: list[LabelledEnquiry]) -> dict[str, Any]:
    """Route every enquiry and count outcomes per language (and over all languages)."""
    counts: dict[str, dict[str, int]] = {}
    mistakes: list[dict[str, Any]] = []
    for row in rows:
        result = router.route(row.text)
        outcome = _outcome(result, set(row.units))
        keys = ["all", row.language] + ([f"{row.language}:{row.kind}"] if row.kind else [])
        for key in keys:
            counts.setdefault(key, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
        if outcome != "right":
            mistakes.append({
                "text": row.text, "language": row.language, "expected_units": list(row.units),
                "outcome": outcome, "unit": result["unit"], "units": result.get("units"),
                "possible_units": result.get("possible_units"), "intent": result["intent"],
                "confidence": result["confidence"],
                "candidates": [c["unit"] for c in result["candidates"]],
            })
    languages: dict[str, dict[str, Any]] = {}
    for lang, c in counts.items():
        n = sum(c.values())
        languages[lang] = {**{o: round(c[o] / n, 4) for o in OUTCOMES}, "support": n}
    return {"languages": languages, "mistakes": mistakes}


def _outcome(result: dict[str, Any], expected: set[str]) -> str:
    routed = set(result.get("units") or ([result["unit"]] if result["unit"] else []))
    offered = routed | set(result.get("possible_units") or [])
    if not routed:
        return "ask" if result["needs_clarification"] else "wrong"
    if routed == expected:
        return "right"
    if offered == expected:
        return "offered"
    return "partial" if routed < expected else "wrong"


def write_routing_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write routing_report.json into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / ROUTING_REPORT_FILE
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return target
