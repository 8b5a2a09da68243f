"""Train from project files: the function behind `bpbot train`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.nlu.model import train
from bot.nlu.training_data import load_training_data


def train_project(config_path: str | Path, data_paths: list[str | Path], out: str | Path,
                  *, progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """Load config and data, train, and save into a new folder under `out`."""
    config = load_config(config_path)
    data = load_training_data(data_paths)
    if progress:
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("training") as status:
            model = train(config, data, progress=lambda msg: status.update(f"training: {msg}"),
                          with_entities=False)
    else:
        model = train(config, data, with_entities=False)
    path = model.save(out)
    return path, model.manifest
