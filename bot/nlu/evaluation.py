"""Quality reports in Rasa's format: intent_report.json, per language, confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import PipelineConfig
from bot.nlu.embedders import Embedder
from bot.nlu.model import NLUModel, clean_text, train
from bot.nlu.training_data import Example, TrainingData


def _report(y_true: list[str], y_pred: list[str]) -> dict[str, Any]:
    from sklearn.metrics import classification_report

    labels = sorted(set(y_true) | set(y_pred))
    report: dict[str, Any] = classification_report(
        y_true, y_pred, labels=labels, output_dict=True, zero_division=0
    )
    if "accuracy" not in report:  # sklearn leaves it out when labels differ from y_true
        report["accuracy"] = float(np.mean(np.array(y_true) == np.array(y_pred)))
    return report


def _confusion_png(y_true: list[str], y_pred: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(y_true) | set(y_pred))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    size = max(6.0, 0.35 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(examples: list[Example], predictions: list[tuple[str, float]],
                  out_dir: str | Path) -> dict[str, Any]:
    """Write intent_report.json (+ per language), errors and confusion matrix PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    y_true = [e.intent for e in examples]
    y_pred = [p for p, _ in predictions]
    summary: dict[str, Any] = {}
    report = _report(y_true, y_pred)
    (out / "intent_report.json").write_text(json.dumps(report, indent=2))
    summary["all"] = {"accuracy": round(report["accuracy"], 4), "support": len(y_true)}
    _confusion_png(y_true, y_pred, out / "intent_confusion_matrix.png", "all languages")
    for lang in sorted({e.language for e in examples if e.language}):
        idx = [i for i, e in enumerate(examples) if e.language == lang]
        t = [y_true[i] for i in idx]
        p = [y_pred[i] for i in idx]
        rep = _report(t, p)
        (out / f"intent_report_{lang}.json").write_text(json.dumps(rep, indent=2))
        _confusion_png(t, p, out / f"intent_confusion_matrix_{lang}.png", lang)
        summary[lang] = {"accuracy": round(rep["accuracy"], 4), "support": len(idx)}
    errors = [
        {"text": e.text, "language": e.language, "intent": e.intent,
         "intent_prediction": {"name": p, "confidence": round(c, 4)}}
        for e, (p, c) in zip(examples, predictions, strict=True) if p != e.intent
    ]
    (out / "intent_errors.json").write_text(json.dumps(errors, indent=2, ensure_ascii=False))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def test_model(model: NLUModel, data: TrainingData, out_dir: str | Path) -> dict[str, Any]:
    """Evaluate a trained model on `data` and write the reports."""
    return write_reports(data.examples, model.predict([e.text for e in data.examples]), out_dir)


def cross_validate(config: PipelineConfig, data: TrainingData, out_dir: str | Path,
                   folds: int = 5, embedder: Embedder | None = None,
                   seed: int = 7) -> dict[str, Any]:
    """K-fold cross-validation with the project's own training code; writes the reports."""
    from sklearn.model_selection import StratifiedKFold

    examples = data.examples
    labels = [e.intent for e in examples]
    predictions: list[tuple[str, float]] = [("", 0.0)] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
        part = TrainingData(examples=[examples[i] for i in train_idx], synonyms=data.synonyms,
                            regexes=data.regexes, lookups=data.lookups,
                            fingerprint=data.fingerprint)
        model = train(config, part, embedder=embedder, with_entities=False)
        embedder = model.embedder
        preds = model.predict([clean_text(examples[i].text) for i in test_idx])
        for i, pred in zip(test_idx, preds, strict=True):
            predictions[i] = pred
    return write_reports(examples, predictions, out_dir)
