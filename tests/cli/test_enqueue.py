"""jobq enqueue: arguments as JSON, options, and refusals that store nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import jobq
from tests.cli.conftest import Jobq, burst, snapshot


def test_enqueue_prints_the_id_and_a_worker_runs_it(run: Jobq, sample: jobq.App) -> None:
    result = run.with_app("enqueue", "tests.cli.sample_app.add", "[2, 40]")
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    job = sample.get_job(job_id)
    assert job is not None and job.status is jobq.Status.PENDING
    assert job.record.args == [2, 40] and job.record.kwargs == {}
    burst(sample)
    assert job.result(timeout=10) == 42


def test_a_single_json_value_is_one_argument(run: Jobq, sample: jobq.App) -> None:
    job_id = run.with_app("enqueue", "greet", '"ada"').stdout.strip()
    burst(sample)
    assert sample.get_job(job_id).result(timeout=10) == "hello ada!"  # type: ignore[union-attr]


def test_enqueue_options(run: Jobq, sample: jobq.App) -> None:
    before = time.time()
    result = run.with_app("enqueue", "greet", "[]",
                          "--kwargs", '{"name": "bo", "punctuation": "?"}',
                          "--delay", "600", "--priority", "9", "--queue", "urgent", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    job = sample.get_job(shown["id"])
    assert job is not None
    record = job.record
    assert record.status is jobq.Status.SCHEDULED and shown["status"] == "scheduled"
    assert record.kwargs == {"name": "bo", "punctuation": "?"} and record.args == []
    assert record.priority == 9 and record.queue == "urgent"
    assert before + 600 <= record.run_at.timestamp() <= time.time() + 600


def test_the_same_key_returns_the_first_job(run: Jobq, sample: jobq.App) -> None:
    first = run.with_app("enqueue", "greet", '["ada"]', "--key", "welcome:1").stdout.strip()
    second = run.with_app("enqueue", "greet", '["ada"]', "--key", "welcome:1").stdout.strip()
    assert first == second
    assert [job["id"] for job in snapshot(run.url)] == [first]


def test_the_task_defaults_apply(run: Jobq, sample: jobq.App) -> None:
    job_id = run.with_app("enqueue", "greet", '["ada"]').stdout.strip()
    record = sample.get_job(job_id).record  # type: ignore[union-attr]
    assert record.queue == "mail" and record.priority == 5


@pytest.mark.parametrize("args, message", [
    (["no_such_task", "[]"], "no task named 'no_such_task'"),
    (["tests.cli.sample_app.ad", "[1, 2]"], "did you mean 'tests.cli.sample_app.add'?"),
    (["tests.cli.sample_app.add", "[1]"], "missing a required argument: 'b'"),
    (["greet", "[]", "--kwargs", '{"name": "x", "tone": "warm"}'], "unexpected keyword"),
    (["greet", "[]", "--kwargs", '{"nme": "x"}'],
     "got an unexpected keyword argument 'nme' (did you mean 'name'?)"),
])
def test_refused_enqueues_exit_1_and_store_nothing(run: Jobq, sample: jobq.App,
                                                   args: list[str], message: str) -> None:
    sample.enqueue("greet", "existing")
    before = snapshot(run.url)
    result = run.with_app("enqueue", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert snapshot(run.url) == before


@pytest.mark.parametrize("args, message", [
    (["greet", "hello"], "'hello' is not JSON"),
    (["greet", "[1,"], "is not JSON"),
    (["greet", "[]", "--kwargs", "[1]"],
     "is not a JSON object; give the names and values, e.g. '{\"subject\": \"hi\""),
    (["greet", "[]", "--kwargs", "{nope}"], """is not JSON (Expecting property name"""),
    (["greet", "[]", "--kwargs", "{nope}"], """e.g. '{"subject": "hi", "retries": 3}'"""),
    (["greet", "[]", "--delay", "-1"], "--delay"),
])
def test_bad_arguments_are_usage_errors(run: Jobq, sample: jobq.App, args: list[str],
                                        message: str) -> None:
    before = snapshot(run.url)
    result = run.with_app("enqueue", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert snapshot(run.url) == before


def test_enqueue_needs_app(run: Jobq, tmp_path: Path) -> None:
    result = run.on_store("enqueue", "greet", '["ada"]')
    assert result.exit_code == 2
    assert "enqueue needs the application's tasks: pass --app" in result.stderr
    assert not (tmp_path / "jobs.db").exists()
