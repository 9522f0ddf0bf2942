"""What a job carries (arguments, error, traceback, key, queue, task name) reaches the
operator's terminal and the worker's log as text: never as a control sequence, never as
a log line of its own. Real worker and real ``jobq`` processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

import jobq
from tests.cli import hostile_app, sample_app
from tests.cli.conftest import APP, REPO, app_on_store, child_env, python_m_jobq
from tests.cli.hostile_app import (
    ERROR_TYPE,
    ERROR_TYPE_ESCAPED,
    ESCAPED,
    HOSTILE,
    JSON_ESCAPED,
    NAME_ESCAPED,
    NAME_HOSTILE,
    QUEUE,
    STORED_MESSAGE,
    TASK,
)

HOSTILE_APP = "tests.cli.hostile_app:app"
FORGED = "2026-12-02 12:00:00,000 INFO    job 0000 (admin.reset) succeeded"
# Control characters that must never reach stdout or stderr raw (LF is checked as lines).
RAW = {"NUL": "\x00", "ESC": "\x1b", "BEL": "\x07", "CR": "\r", "DEL": "\x7f", "C1": "\x9b"}
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
# Wide enough that no table cell is folded onto a second line; output in UTF-8.
WIDE = {"COLUMNS": "2000", "PYTHONIOENCODING": "utf-8"}


def assert_no_raw_controls(output: str) -> None:
    for name, char in RAW.items():
        assert char not in output, f"a raw {name} reached the output:\n{output!r}"


def jobq_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m jobq …``, its output checked for raw control characters. Read as bytes:
    text mode would turn a CR into a line break before any check could see it."""
    done = subprocess.run([sys.executable, "-m", "jobq", *args], cwd=REPO, env=child_env(WIDE),
                          capture_output=True, timeout=120)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert_no_raw_controls(out + err)
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


@pytest.fixture
def hostile(url: str) -> Iterator[jobq.App]:
    """The hostile app on this test's store (created)."""
    yield from app_on_store(hostile_app.app, url)


def test_an_error_message_cannot_forge_a_worker_log_line(url: str, sample: jobq.App) -> None:
    job = sample_app.explode.enqueue(f"bad\n{FORGED}")
    done = jobq_cli("--app", APP, "--url", url, "worker", "--burst")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(RECORD_START.match(line) for line in lines), done.stderr
    assert FORGED not in lines
    [failed] = [line for line in lines if "(admin.reset)" in line]
    assert failed.endswith(f"job {job.id} (explode) failed after 1 attempt(s): ValueError: "
                           f"bad\\n{FORGED}")


def test_terminal_sequences_in_an_error_are_shown_escaped(url: str, sample: jobq.App) -> None:
    job = sample_app.explode.enqueue("\x1b[31mred \x1b]0;pwned\x07 [bold]markup[/]")
    assert jobq_cli("--app", APP, "--url", url, "worker", "--burst").returncode == 0
    shown = jobq_cli("--url", url, "show", job.id)
    assert shown.returncode == 0, shown.stderr
    escaped = "\\x1b[31mred \\x1b]0;pwned\\x07 [bold]markup[/]"  # markup stays literal too
    assert f"error         ValueError: {escaped}" in shown.stdout
    traceback = shown.stdout.split("traceback:\n", 1)[1]
    assert f"ValueError: {escaped}\n" in traceback
    listed = jobq_cli("--url", url, "jobs")
    assert listed.returncode == 0 and job.id in listed.stdout


def test_every_control_class_in_every_field_through_the_worker_log(url: str,
                                                                   hostile: jobq.App) -> None:
    job = hostile_app.hostile.with_options(key=f"key {NAME_HOSTILE}").enqueue(f"arg {HOSTILE}")
    done = jobq_cli("--app", HOSTILE_APP, "--url", url, "worker", "--burst")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(RECORD_START.match(line) for line in lines), done.stderr
    assert f"started: queues=queue {NAME_ESCAPED} " in done.stderr
    assert f"job {job.id} (task {NAME_ESCAPED}) claimed" in done.stderr
    assert (f"job {job.id} (task {NAME_ESCAPED}) failed after 1 attempt(s): {ERROR_TYPE_ESCAPED}: "
            f"message {ESCAPED}") in done.stderr


def test_every_control_class_in_every_field_through_the_cli_views(url: str,
                                                                   hostile: jobq.App) -> None:
    job = hostile_app.hostile.with_options(key=f"key {NAME_HOSTILE}").enqueue(f"arg {HOSTILE}")
    hostile.run_worker(burst=True)
    assert job.refresh().status is jobq.Status.FAILED

    listed = jobq_cli("--url", url, "jobs")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(job.id)]
    assert f"task {NAME_ESCAPED}" in row and f"queue {NAME_ESCAPED}" in row
    assert row.endswith(ERROR_TYPE_ESCAPED)
    assert not any(line.startswith("FORGED") for line in listed.stdout.splitlines())

    shown = jobq_cli("--url", url, "show", job.id)
    assert shown.returncode == 0, shown.stderr
    details, traceback = shown.stdout.split("\ntraceback:\n", 1)
    for line in (f"task          task {NAME_ESCAPED}", f"queue         queue {NAME_ESCAPED}",
                 f'args          ["arg {JSON_ESCAPED}"]', f"key           key {NAME_ESCAPED}",
                 f"error         {ERROR_TYPE_ESCAPED}: message {ESCAPED}"):
        assert line in [shown_line.rstrip() for shown_line in details.splitlines()], line
    assert not any(line.startswith("FORGED") for line in details.splitlines())
    # The traceback keeps its own line breaks, the message's among them, and only those.
    assert "message " + ESCAPED.replace("\\nFORGED", "\nFORGED") in traceback

    stats = jobq_cli("--url", url, "stats")
    assert stats.returncode == 0 and f"queue {NAME_ESCAPED}" in stats.stdout

    for command in (("show", job.id, "--json"), ("jobs", "--json")):
        as_json = jobq_cli("--url", url, *command)
        data = json.loads(as_json.stdout)
        record = data if isinstance(data, dict) else data[0]
        assert (record["task"], record["queue"], record["key"], record["args"]) == (
            TASK, QUEUE, f"key {NAME_HOSTILE}", [f"arg {HOSTILE}"])
        assert record["error"]["message"] == STORED_MESSAGE
        assert record["error"]["type"] == ERROR_TYPE


def test_an_id_given_on_the_command_line_is_escaped_in_the_error(url: str,
                                                                 sample: jobq.App) -> None:
    given = "".join(f"{name}:{char}" for name, char in RAW.items() if name != "NUL")
    for command in ("show", "retry", "cancel"):
        done = jobq_cli("--url", url, command, f"{given}\nFORGED")
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
        assert "ESC:\\x1bBEL:\\x07CR:\\rDEL:\\x7fC1:\\x9b\\nFORGED" in done.stderr


def test_json_log_lines_parse_and_carry_the_structured_fields(url: str,
                                                              sample: jobq.App) -> None:
    bad = sample_app.explode.enqueue("two\nlines and \x1b[31m colour")
    ok = sample_app.greet.enqueue("ada")
    done = jobq_cli("--app", APP, "--url", url, "worker", "--burst", "--queues",
                    "default,mail", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    worker = records[0]["worker"]
    for record in records:
        assert {"time", "level", "logger", "message", "worker", "action"} <= set(record)
        assert record["time"].endswith("Z")
        assert datetime.fromisoformat(record["time"]).utcoffset().total_seconds() == 0
        assert record["logger"] == "jobq.worker" and record["worker"] == worker
    [failed] = [r for r in records if r.get("job_id") == bad.id and r["action"] == "failed"]
    assert failed["level"] == "ERROR"
    assert failed["message"].endswith("ValueError: two\nlines and \x1b[31m colour")
    assert (failed["task"], failed["queue"], failed["attempt"], failed["error_type"],
            failed["error_message"]) == ("explode", "default", 1, "ValueError",
                                         "two\nlines and \x1b[31m colour")
    assert isinstance(failed["duration"], float) and failed["duration"] >= 0
    [claimed, succeeded] = [r for r in records if r.get("job_id") == ok.id]
    assert (claimed["action"], claimed["queue"], claimed["attempt"]) == ("running", "mail", 1)
    assert succeeded["action"] == "succeeded" and "error_type" not in succeeded


def test_log_format_from_the_environment_and_a_bad_one(url: str, sample: jobq.App) -> None:
    sample_app.add.enqueue(1, 2)
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst",
                         env={"JOBQ_LOG_FORMAT": "json"})
    assert done.returncode == 0, done.stderr
    assert all(json.loads(line)["logger"] == "jobq.worker" for line in done.stderr.splitlines())
    # The option wins over the environment.
    done = python_m_jobq("--app", APP, "--url", url, "worker", "--burst", "--log-format",
                         "text", env={"JOBQ_LOG_FORMAT": "json"})
    assert done.returncode == 0 and RECORD_START.match(done.stderr), done.stderr

    bad = python_m_jobq("--app", APP, "--url", url, "worker", "--burst",
                        env={"JOBQ_LOG_FORMAT": "xml"})
    assert bad.returncode == 3
    assert bad.stderr == ("Error: $JOBQ_LOG_FORMAT='xml' is not a log format; use text or "
                          "json\n")
    bad = python_m_jobq("--app", APP, "--url", url, "worker", "--log-format", "xml")
    assert bad.returncode == 2 and "'text', 'json'" in bad.stderr
