"""Escaping outside text for the terminal and the log, and the two log formats."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from jobq.config import LOG_FORMATS, log_format
from jobq.errors import ConfigError
from jobq.logs import JsonFormatter, TextFormatter, WorkerLog, formatter
from jobq.text import escape_controls, safe_json


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x00", "\\x00"), ("\x07", "\\x07"), ("\x08", "\\x08"), ("\t", "\\t"), ("\n", "\\n"),
    ("\r", "\\r"), ("\x1b", "\\x1b"), ("\x1f", "\\x1f"), ("\x7f", "\\x7f"), ("\x80", "\\x80"),
    ("\x85", "\\x85"), ("\x9b", "\\x9b"), ("\x9f", "\\x9f"), ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
])
def test_each_control_character_is_escaped_visibly(raw: str, shown: str) -> None:
    assert escape_controls(f"a{raw}b") == f"a{shown}b"


def test_every_c0_c1_and_del_character_is_escaped_and_nothing_else() -> None:
    for code in range(0x2100):
        char = chr(code)
        control = code < 0x20 or 0x7f <= code <= 0x9f or code in (0x2028, 0x2029)
        assert (escape_controls(char) != char) is control, hex(code)


def test_printable_text_is_returned_as_it_is() -> None:
    text = "héllo 日本 ✔ [bold]markup[/] \\x1b as four characters"
    assert escape_controls(text) is text
    assert escape_controls(text, keep_newlines=True) is text


def test_terminal_sequences_become_plain_text() -> None:
    assert escape_controls("\x1b[31mred\x1b]0;pwned\x07") == "\\x1b[31mred\\x1b]0;pwned\\x07"


def test_keep_newlines_keeps_line_feeds_and_only_them() -> None:
    text = "Traceback:\n  line\r\n\tx\x1b[2J\u2028y\n"
    assert escape_controls(text, keep_newlines=True) == (
        "Traceback:\n  line\\r\n\\tx\\x1b[2J\\u2028y\n"
    )
    assert "\n" not in escape_controls(text)


def test_safe_json_is_the_same_json_with_nothing_raw() -> None:
    value = {"a\x7fkey": ["\x00\x1b\x7f\x85\x9b\u2028\u2029 é 日本"], "n": 1}
    for ascii_only in (True, False):
        text = safe_json(value, ensure_ascii=ascii_only)
        assert json.loads(text) == value
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"
                       for c in text), text
    assert "é 日本" in safe_json(value, ensure_ascii=False)


def _record(message: str, *args: object, exc: BaseException | None = None,
            **extra: object) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("jobq.worker", logging.ERROR, __file__, 1, message, args,
                               exc_info)
    record.__dict__.update(extra)
    return record


def _raised(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()[1]  # type: ignore[return-value]


def test_text_format_keeps_a_record_on_one_line() -> None:
    line = TextFormatter().format(_record("job %s failed: %s", "j1", "bad\nFORGED \x1b[31m"))
    assert line.endswith("ERROR   job j1 failed: bad\\nFORGED \\x1b[31m")
    assert "\n" not in line


def test_text_format_indents_every_traceback_line() -> None:
    line = TextFormatter().format(_record("crashed", exc=_raised("bad\nFORGED \x1b[31m")))
    first, *rest = line.split("\n")
    assert first.endswith("ERROR   crashed")
    assert rest and all(part.startswith("  ") for part in rest)
    assert "  ValueError: bad" in rest and "  FORGED \\x1b[31m" in rest
    assert "\x1b" not in line


def test_text_format_escapes_a_traceback_another_formatter_cached() -> None:
    record = _record("crashed", exc=_raised("bad\nFORGED"))
    logging.Formatter().format(record)  # caches the raw traceback on record.exc_text
    line = TextFormatter().format(record)
    assert "\n  FORGED" in line and "\nFORGED" not in line
    record.exc_info = None  # as a record sent over a socket arrives: the text alone
    assert "\n  FORGED" in TextFormatter().format(record)


def test_json_format_is_one_object_per_line_with_the_structured_fields() -> None:
    record = _record("job %s failed: %s", "j1", "two\nlines \x1b[31m", worker="w1",
                     job_id="j1", task="t", queue="q", attempt=2, action="failed",
                     duration=0.25, error_type="ValueError", error_message="two\nlines",
                     odd=object(), exc=_raised("inner\nline"))
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\x1b" not in line
    data = json.loads(line)
    assert data["time"].endswith("Z") and data["time"][10] == "T"
    assert (data["level"], data["logger"], data["message"]) == (
        "ERROR", "jobq.worker", "job j1 failed: two\nlines \x1b[31m")
    assert {k: data[k] for k in ("worker", "job_id", "task", "queue", "attempt", "action",
                                 "duration", "error_type", "error_message")} == {
        "worker": "w1", "job_id": "j1", "task": "t", "queue": "q", "attempt": 2,
        "action": "failed", "duration": 0.25, "error_type": "ValueError",
        "error_message": "two\nlines"}
    assert data["odd"].startswith("<object object")
    assert data["exception"].endswith("ValueError: inner\nline")
    assert "args" not in data and "msg" not in data and "exc_info" not in data


def test_each_log_format_has_a_formatter() -> None:
    assert isinstance(formatter("text"), TextFormatter)
    assert isinstance(formatter("json"), JsonFormatter)
    assert LOG_FORMATS == ("text", "json")


def test_worker_log_adds_the_worker_to_every_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobq.worker")
    log = WorkerLog("host:1:abc")
    log.info("with fields", extra={"job_id": "j1", "action": "x"})
    log.info("without")
    assert [(r.worker, getattr(r, "job_id", None)) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("host:1:abc", "j1"), ("host:1:abc", None)]


def test_log_format_option_then_environment_then_text() -> None:
    assert log_format(None, {}) == "text"
    assert log_format(None, {"JOBQ_LOG_FORMAT": "JSON"}) == "json"
    assert log_format("text", {"JOBQ_LOG_FORMAT": "json"}) == "text"
    with pytest.raises(ConfigError) as caught:
        log_format(None, {"JOBQ_LOG_FORMAT": "logfmt"})
    assert str(caught.value) == ("$JOBQ_LOG_FORMAT='logfmt' is not a log format; use text "
                                 "or json")
    with pytest.raises(ConfigError, match="--log-format='xml'"):
        log_format("xml", {})
