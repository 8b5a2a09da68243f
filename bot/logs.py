"""One logging configuration for the project and uvicorn: plain lines or JSON lines.

Every handler masks Finnish personal identity codes (bot.store.privacy.MaskingFilter):
uvicorn's access and error lines as well as the project's own. `bpbot serve` passes this
configuration to uvicorn, so uvicorn's defaults do not replace it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(level: str = "INFO", fmt: str = "plain") -> dict[str, Any]:
    """The dictConfig for the project and uvicorn."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "formatter": fmt, "filters": ["mask"]}
    quiet = {"level": level, "handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": "bot.store.privacy.MaskingFilter"}},
        "formatters": {"plain": {"format": PLAIN},
                       "json": {"()": "bot.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {"uvicorn": quiet, "uvicorn.error": {"level": level},
                    "uvicorn.access": quiet, "bot": {"level": level}},
        "root": {"level": level, "handlers": ["default"]},
    }
