"""The two formats ``jobq worker`` writes its log in: text for people, JSON for pipelines.

Both keep one record to one line whatever a job put in its error message, so a job can
never write a log line of its own: the text format escapes control characters (see
``jobq.text``), the JSON format is one JSON object per line.
Use them in your own process too, e.g. ``handler.setFormatter(jobq.logs.JsonFormatter())``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from jobq.text import escape_controls, safe_json

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"

# Attributes every LogRecord has; whatever else a record holds came through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}


class TextFormatter(logging.Formatter):
    """``2026-01-31 09:30:00,412 INFO    job … succeeded``: one line per record.

    Control characters anywhere in the line are escaped. An exception's traceback keeps
    its line breaks but each of its lines is indented, so every line that starts at the
    left edge is a record of its own.
    """

    def __init__(self, fmt: str = TEXT_FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def format(self, record: logging.LogRecord) -> str:
        cached = record.exc_text
        # Another handler's formatter may have cached the traceback on the record as it
        # is: format it afresh (or, with no exc_info to format from, indent the cache).
        record.exc_text = None if record.exc_info or not cached else _indented(cached)
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(block: str) -> str:
    return "\n".join("  " + line for line in escape_controls(block, keep_newlines=True)
                     .split("\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, then the record's structured fields (``worker``, ``job_id``, ``task``,
    ``queue``, ``attempt``, ``action``, ``duration``, ``error_type``, ``error_message``
    and any other ``extra=``), and ``exception`` / ``stack`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ASCII only: a pipeline reading the stream with the wrong encoding still parses it.
        return safe_json(line, default=repr)


class WorkerLog(logging.LoggerAdapter[logging.Logger]):
    """The ``jobq.worker`` logger as one worker writes to it: each record also carries
    the worker's id (``record.worker``), beside the fields given with ``extra=``."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(logging.getLogger("jobq.worker"), {"worker": worker_id})

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def formatter(name: str) -> logging.Formatter:
    """The formatter of a log format named in ``jobq.config.LOG_FORMATS``."""
    return _FORMATTERS[name]()


_FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}
