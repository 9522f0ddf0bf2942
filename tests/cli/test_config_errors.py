"""Exit code 3: an app that cannot be loaded or a store that cannot be opened, said in one
line that names what was tried (the password hidden), with nothing created or changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobq
from tests.cli.conftest import APP, Jobq, snapshot
from tests.services import POSTGRES_URL, REDIS_URL, unique_name


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("url", [
    "mysql://admin:s3cr3t-pw@db.example.com/jobs",
    "postgresql://admin:s3cr3t-pw@127.0.0.1:1/jobs",
    "redis://admin:s3cr3t-pw@127.0.0.1:1/0",
])
def test_a_bad_or_unreachable_store_exits_3_with_the_password_hidden(run: Jobq,
                                                                     url: str) -> None:
    result = run("--url", url, "jobs")
    assert result.exit_code == 3
    line = one_line_error(result.stderr)
    assert "s3cr3t-pw" not in result.output
    assert "admin:***@" in line


def test_a_missing_sqlite_file_is_not_created_by_reading_commands(run: Jobq,
                                                                  tmp_path: Path) -> None:
    for command in (["jobs"], ["show", "x"], ["stats"], ["retry", "x"], ["cancel", "x"],
                    ["purge", "--yes"]):
        result = run.on_store(*command)
        assert result.exit_code == 3, command
        assert "no jobq store at" in one_line_error(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_in_a_missing_folder(run: Jobq, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'jobs.db'}"
    result = run("--url", url, "migrate")
    assert result.exit_code == 3
    assert "does not exist" in one_line_error(result.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("reference, message", [
    ("tests.cli.no_such_module:app", "no module named 'tests.cli.no_such_module'"),
    ("tests.cli.sample_app:nope", "has no attribute 'nope'; the Apps it defines: app, other"),
    ("tests.cli.sample_app:not_an_app", "'not_an_app' is a str, not a jobq.App"),
    ("tests.cli.sample_app", "is not module:attr; write e.g. --app myapp:app"),
    ("tests/cli/sample_app.py:app",
     "give the module's name, not its file: --app tests.cli.sample_app:app"),
    ("tests.cli.broken_app:app", "raised RuntimeError: the settings file is missing"),
])
def test_an_app_that_cannot_be_loaded_exits_3(run: Jobq, sample: jobq.App, reference: str,
                                              message: str) -> None:
    before = snapshot(run.url)
    result = run("--app", reference, "--url", run.url, "enqueue", "greet", '["x"]')
    assert result.exit_code == 3
    line = one_line_error(result.stderr)
    assert message in line and reference in line
    assert snapshot(run.url) == before


def test_a_missing_module_says_where_it_looked(run: Jobq) -> None:
    result = run("--app", "no_such_app_module:app", "jobs")
    line = one_line_error(result.stderr)
    assert "looked in" in line and "PYTHONPATH" in line


def test_jobq_app_and_jobq_url_come_from_the_environment(run: Jobq, sample: jobq.App) -> None:
    result = run("--url", run.url, "enqueue", "greet", '["env"]', env={"JOBQ_APP": APP})
    assert result.exit_code == 0, result.output
    listed = run("jobs", "--json", env={"JOBQ_URL": run.url})
    assert [job["id"] for job in json.loads(listed.stdout)] == [result.stdout.strip()]


def test_a_bad_setting_in_the_environment_exits_3(run: Jobq, sample: jobq.App) -> None:
    result = run.on_store("jobs", env={"JOBQ_LEASE": "soon"})
    assert result.exit_code == 3
    assert "JOBQ_LEASE" in one_line_error(result.stderr)


def test_usage_errors_exit_2(run: Jobq, sample: jobq.App) -> None:
    assert run.on_store("jobs", "--status", "bogus").exit_code == 2
    assert run.on_store("show").exit_code == 2
    assert run.on_store("no-such-command").exit_code == 2
    assert run.with_app("worker", "--concurrency", "0").exit_code == 2
    assert run.on_store("worker", "--burst").exit_code == 2  # needs --app


def test_demo_in_a_folder_it_cannot_make_exits_3(run: Jobq, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run("demo", "--dir", str(blocker / "demo"))
    assert result.exit_code == 3
    assert "cannot keep the demo's store in" in one_line_error(result.stderr)


@pytest.mark.parametrize("url, message", [
    (f"{REDIS_URL}?foo=bar", "unknown option 'foo' in its query"),
    (f"{REDIS_URL}?socket_timout=3", "unknown option 'socket_timout' in its query; did you "
                                     "mean 'socket_timeout'?"),
    ("sqlite:///jobs.db?synchronus=full", "unknown option 'synchronus' in the URL; did you "
                                          "mean 'synchronous'?"),
    ("postgresql://127.0.0.1/test?foo=bar", "invalid URI query parameter"),
])
def test_an_unknown_option_in_a_url_is_named_in_one_line(run: Jobq, tmp_path: Path, url: str,
                                                         message: str) -> None:
    result = run("--url", url, "jobs")
    assert result.exit_code == 3
    assert message in one_line_error(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_does_not_speak_tls_is_named_without_hanging(run: Jobq) -> None:
    # rediss:// against a plain Redis: the TLS handshake gets no answer. Refused in one
    # line, exit 3, naming what to check (this test's own timeout bounds the wait).
    tls = REDIS_URL.replace("redis://", "rediss://", 1)
    result = run("--url", tls, "jobs")
    assert result.exit_code == 3
    line = one_line_error(result.stderr)
    assert "cannot reach Redis at rediss://" in line and "no answer within 5s" in line
    assert "redis:// against rediss:// (TLS)" in line


def test_a_mistyped_redis_prefix_is_refused_and_writes_nothing(run: Jobq) -> None:
    import redis

    prefix = unique_name("jobq_typo") + ":"
    result = run("--url", REDIS_URL, "jobs", env={"JOBQ_PREFIX": prefix})
    assert result.exit_code == 3
    assert f"no key '{prefix}schema' (is the prefix, $JOBQ_PREFIX, right?)" in (
        one_line_error(result.stderr))
    assert redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*") == []


def test_a_postgresql_schema_that_does_not_exist_is_refused(run: Jobq) -> None:
    schema = unique_name("jobq_typo")
    result = run("--url", POSTGRES_URL, "jobs", env={"JOBQ_SCHEMA": schema})
    assert result.exit_code == 3
    assert f"no jobq tables in schema '{schema}' ($JOBQ_SCHEMA)" in one_line_error(
        result.stderr)
