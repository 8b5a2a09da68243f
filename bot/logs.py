"""One logging configuration for the project and uvicorn, with personal data masked.

Every handler masks, in the message, its arguments, tracebacks and stack traces
(MaskingFilter): Finnish personal identity codes, e-mail addresses and phone numbers (also
%-encoded in URLs), the parameters of failed SQL statements (the customer's name and
contact data would be among them), values declared personal for a block of code
(`personal_values`, e.g. a customer's name while their enquiry is stored), and tokens in
URLs (uvicorn's access line: a rating link's `token=`, any `...token`, `key`, `code`,
`sig`, `signature`, `secret` or `password` in a query, and token-like path segments of 32
or more characters). `bpbot serve` passes this configuration to uvicorn (each of `--workers`
too), so uvicorn's defaults do not replace it; `install_log_masking` adds the filter to
handlers configured some other way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from bot.nlu.validators import EMAIL, mask_personal_ids

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A phone number not inside a reference (BP-2026-000123), an address or a version.
_PHONE = re.compile(r"(?<![\w+./:-])(?:\+\d{1,3}[\s-]?\(?0?\)?|\(?0)\d{1,3}\)?"
                    r"(?:[\s-]?\d){4,9}(?!\d)")
_EMAIL_IN_URL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}%40[A-Za-z0-9.-]+\.[A-Za-z]{2,24}",
                           re.IGNORECASE)
_PHONE_IN_URL = re.compile(r"(?<=[=/])(?:%2B\d{1,3}|0)\d{0,3}(?:(?:%20|\+|-)?\d){4,9}(?!\d)",
                           re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"(?<=[?&;])((?:[\w.-]*token|key|code|sig|signature|secret|password)=)[^&;#\s\"']+",
    re.IGNORECASE)
_PATH_TOKEN = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{32,}(?=[/?#\s\"']|$)")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background|\Z))", re.DOTALL)
_PERSONAL: ContextVar[tuple[str, ...]] = ContextVar("bpbot_personal_values", default=())
MASKS = {"email": "[email]", "phone": "[phone]", "token": "[token]", "name": "[name]",
         "parameters": "[parameters: masked]"}


@contextmanager
def personal_values(*values: str | None) -> Iterator[None]:
    """Mask `values` (a name, a company) in every log line written inside the block.

    The values go with the context: into threads started with a copied context, such as
    the agent's database threads.
    """
    known = tuple(v.strip() for v in values if v and len(v.strip()) >= 3)
    reset = _PERSONAL.set(_PERSONAL.get() + known)
    try:
        yield
    finally:
        _PERSONAL.reset(reset)


def mask_text(text: str) -> str:
    """`text` with personal data and URL tokens masked (see the module's docstring)."""
    text = _SQL_PARAMETERS.sub(MASKS["parameters"], text)
    text = _SECRET_QUERY.sub(lambda m: m.group(1) + MASKS["token"], text)
    text = _PATH_TOKEN.sub(MASKS["token"], text)
    text = _EMAIL_IN_URL.sub(MASKS["email"], text)
    text = _PHONE_IN_URL.sub(MASKS["phone"], text)
    text = EMAIL.sub(MASKS["email"], text)
    text = mask_personal_ids(text)
    text = _PHONE.sub(MASKS["phone"], text)
    for value in sorted(_PERSONAL.get(), key=len, reverse=True):
        text = re.sub(re.escape(value), MASKS["name"], text, flags=re.IGNORECASE)
    return text


def _masked_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(mask_text(a) if isinstance(a, str) else a for a in args)
    if isinstance(args, dict):
        return {k: mask_text(v) if isinstance(v, str) else v for k, v in args.items()}
    return args


class MaskingFilter(logging.Filter):
    """Masks personal data and URL tokens in every record (it keeps every record).

    The arguments are masked one by one where that is enough, so formatters that read
    them (uvicorn's access formatter) keep working; otherwise the message is replaced by
    its masked text. A traceback is formatted and masked here, before any formatter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; always keep it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logging reports it
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = mask_text(str(record.msg)), _masked_args(record.args)
            try:
                kept = record.getMessage() == masked
            except (TypeError, ValueError):
                kept = False
            if not kept:
                record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_log_masking() -> None:
    """Mask on every handler configured so far, and on records of the root logger.

    The root logger's handlers and those of every named logger (uvicorn's access and error
    loggers have handlers of their own when uvicorn configured the logging itself).
    """
    root = logging.getLogger()
    if not any(isinstance(f, MaskingFilter) for f in root.filters):
        root.addFilter(MaskingFilter())
    loggers = [root, *(lg for lg in logging.Logger.manager.loggerDict.values()
                       if isinstance(lg, logging.Logger))]
    for handler in {h for lg in loggers for h in lg.handlers}:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_text:  # formatted (and masked) by MaskingFilter
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(level: str = "INFO", fmt: str = "plain") -> dict[str, Any]:
    """The dictConfig for the project and uvicorn (the masking filter on its one handler)."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "formatter": fmt, "filters": ["mask"]}
    quiet = {"level": level, "handlers": ["default"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": "bot.logs.MaskingFilter"}},
        "formatters": {"plain": {"format": PLAIN},
                       "json": {"()": "bot.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {"uvicorn": quiet, "uvicorn.error": {"level": level},
                    "uvicorn.access": quiet, "bot": {"level": level}},
        "root": {"level": level, "handlers": ["default"]},
    }
