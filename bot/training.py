"""Train from project files: the function behind `bpbot train`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.nlu.model import train
from bot.nlu.training_data import load_training_data


def train_project(config_path: str | Path, data_paths: list[str | Path], out: str | Path,
                  *, progress: bool = False, report: Callable[[str, int, int], None] | None = None
                  ) -> tuple[Path, dict[str, Any]]:
    """Load config and data, train, and save into a new folder under `out`.

    `report(step, done, total)` hears of the steps (the review page's progress).
    """
    config = load_config(config_path)
    data = load_training_data(data_paths)
    if report is not None:
        model = train(config, data, progress=report, with_entities=False)
    elif progress:
        from rich.console import Console
        from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

        columns = (*Progress.get_default_columns()[:2], MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("training", total=None)

            def show(step: str, done: int, total: int) -> None:
                bar.update(task, description=step, completed=done, total=total or None)

            model = train(config, data, progress=show, with_entities=False)
    else:
        model = train(config, data, with_entities=False)
    path = model.save(out)
    return path, model.manifest
