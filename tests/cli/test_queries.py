"""jobq jobs, show and stats: tables for people, stable JSON for scripts."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import jobq
from tests.cli import sample_app
from tests.cli.conftest import APP, Jobq, burst

JOB_KEYS = {
    "id", "task", "queue", "status", "priority", "attempts", "max_attempts", "args", "kwargs",
    "key", "timeout", "result", "error", "run_at", "created_at", "started_at", "finished_at",
    "lease_expires_at", "worker_id", "cancel_requested", "meta", "lost_leases", "max_lost",
    "unknown_task_since", "limit_key", "limit_held_since",
}


def parse_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
    return moment


def seed(app: jobq.App) -> tuple[jobq.Job, jobq.Job, jobq.Job]:
    """One succeeded add, one failed explode, one pending greet on the mail queue."""
    ok = sample_app.add.enqueue(2, 3)
    bad = sample_app.explode.enqueue("disk full")
    burst(app)
    waiting = sample_app.greet.with_options(delay=3600).enqueue("ada")
    return ok.refresh(), bad.refresh(), waiting


def test_jobs_lists_newest_first_with_state_and_error_type(run: Jobq, sample: jobq.App) -> None:
    ok, bad, waiting = seed(sample)
    result = run.on_store("jobs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "task", "queue", "status", "attempts", "created", "(UTC)",
                                "error"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == [waiting.id, bad.id, ok.id]
    assert rows[0][1:5] == ["greet", "mail", "scheduled", "0/1"]
    assert rows[1][1:5] == ["explode", "default", "failed", "1/1"] and rows[1][-1] == "ValueError"
    assert rows[2][1:5] == ["tests.cli.sample_app.add", "default", "succeeded", "1/1"]


def test_jobs_filters_and_limit(run: Jobq, sample: jobq.App) -> None:
    ok, bad, waiting = seed(sample)

    def ids(*args: str) -> list[str]:
        result = run.on_store("jobs", "--json", *args)
        assert result.exit_code == 0, result.output
        return [job["id"] for job in json.loads(result.stdout)]

    assert ids("--status", "failed") == [bad.id]
    assert ids("--task", "tests.cli.sample_app.add") == [ok.id]
    assert ids("--queue", "mail") == [waiting.id]
    assert ids("--limit", "2") == [waiting.id, bad.id]
    assert ids("--status", "running") == []
    plain = run.on_store("jobs", "--status", "running")
    assert plain.exit_code == 0 and "No jobs match." in plain.stdout


def test_jobs_json_has_every_field_with_utc_timestamps(run: Jobq, sample: jobq.App) -> None:
    _, bad, _ = seed(sample)
    result = run.on_store("jobs", "--json", "--status", "failed")
    (job,) = json.loads(result.stdout)
    assert set(job) == JOB_KEYS
    assert job["status"] == "failed" and job["args"] == ["disk full"] and job["kwargs"] == {}
    assert job["error"]["type"] == "ValueError" and job["error"]["message"] == "disk full"
    for field in ("run_at", "created_at", "started_at", "finished_at"):
        assert parse_utc(job[field]) == getattr(bad, field)


def test_show_prints_every_field_and_the_traceback(run: Jobq, sample: jobq.App) -> None:
    _, bad, _ = seed(sample)
    result = run.on_store("show", bad.id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in ("task", "queue", "status", "attempts", "args", "kwargs", "created", "started",
                  "finished", "worker", "result", "error", "traceback:"):
        assert label in out, label
    assert '["disk full"]' in out
    assert "ValueError: disk full" in out
    assert "Traceback (most recent call last)" in out and "raise ValueError(message)" in out


def test_show_json_round_trips_result_and_error(run: Jobq, sample: jobq.App) -> None:
    ok, bad, _ = seed(sample)
    shown = json.loads(run.on_store("show", ok.id, "--json").stdout)
    assert set(shown) == JOB_KEYS | {"dependencies", "dependents"}
    assert shown["result"] == 5 and shown["error"] is None and shown["attempts"] == 1
    failed = json.loads(run.on_store("show", bad.id, "--json").stdout)
    assert failed["result"] is None
    assert "raise ValueError(message)" in failed["error"]["traceback"]


def test_show_unknown_id_exits_1_with_one_line(run: Jobq, sample: jobq.App) -> None:
    result = run.on_store("show", "no-such-job")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: no job with id 'no-such-job' in {run.url}; `jobq jobs` lists the ids"
    )


def test_stats_table_and_json(run: Jobq, sample: jobq.App) -> None:
    seed(sample)
    table = run.on_store("stats")
    assert table.exit_code == 0, table.output
    header = next(line for line in table.stdout.splitlines() if "queue" in line)
    for status in jobq.Status:
        assert status.value in header
    data = json.loads(run.on_store("stats", "--json").stdout)
    statuses = {s.value: 0 for s in jobq.Status}
    assert data == {
        "queues": {
            "default": statuses | {"succeeded": 1, "failed": 1},
            "mail": statuses | {"scheduled": 1},
        },
        "total": statuses | {"succeeded": 1, "failed": 1, "scheduled": 1},
        "workers": 0, "waiting_on_limits": 0, "waiting_for_tasks": {}, "oldest_pending": {},
    }


def test_stats_of_an_empty_store(run: Jobq, sample: jobq.App) -> None:
    assert json.loads(run.on_store("stats", "--json").stdout) == {
        "queues": {}, "total": {s.value: 0 for s in jobq.Status},
        "workers": 0, "waiting_on_limits": 0, "waiting_for_tasks": {}, "oldest_pending": {},
    }
    assert "no jobs" in run.on_store("stats").stdout


def test_a_job_that_succeeded_on_retry_shows_its_error_as_earlier(run: Jobq,
                                                                  sample: jobq.App) -> None:
    job = sample_app.flaky.enqueue()
    burst(sample)
    assert job.result(timeout=5) == "second try works" and job.refresh().attempts == 2
    (row,) = run.on_store("jobs").stdout.splitlines()[1:]
    cells = row.split()  # id, task, queue, status, attempts, created date and time
    assert cells[3:5] == ["succeeded", "2/2"] and len(cells) == 7  # and no error type
    shown = run.on_store("show", job.id).stdout
    assert "earlier error  ConnectionError: first try fails" in shown


def test_url_and_app_may_follow_the_command_and_win(run: Jobq, sample: jobq.App,
                                                    tmp_path: Path) -> None:
    job = sample_app.add.enqueue(1, 2)
    listed = run("jobs", "--json", "--url", run.url)
    assert [j["id"] for j in json.loads(listed.stdout)] == [job.id]
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    again = run("--url", elsewhere, "show", job.id, "--url", run.url)
    assert again.exit_code == 0, again.output
    enqueued = run("enqueue", "greet", '["x"]', "--app", APP, "--url", run.url)
    assert enqueued.exit_code == 0, enqueued.output
    assert not (tmp_path / "elsewhere.db").exists()


def test_show_lists_what_a_job_waits_for_and_what_waits_for_it(run: Jobq,
                                                               sample: jobq.App) -> None:
    first = sample_app.add.enqueue(1, 2)
    chain = jobq.chain(sample_app.add.with_options(depends_on=[first]).call(3, 4),
                       sample_app.add.call(5)).enqueue()
    middle, last = chain.jobs
    listed = run.on_store("jobs", "--status", "blocked", "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == [last.id, middle.id]

    shown = run.on_store("show", middle.id)
    assert shown.exit_code == 0, shown.output
    assert "waits for (1)" in shown.stdout and "waited on by (1)" in shown.stdout
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()
            if line.split() and line.split()[0] in (first.id, last.id)}
    assert rows == {first.id: ["tests.cli.sample_app.add", "pending"],
                    last.id: ["tests.cli.sample_app.add", "blocked"]}
    data = json.loads(run.on_store("show", middle.id, "--json").stdout)
    assert (data["dependencies"], data["dependents"]) == ([first.id], [last.id])
    assert data["status"] == "blocked"
    plain = run.on_store("show", first.id).stdout
    assert "waited on by (1)" in plain and "waits for" not in plain


def test_stats_shows_workers_and_jobs_waiting_for_a_task_no_worker_has(
    run: Jobq, sample: jobq.App
) -> None:
    from jobq.backends.base import Postponed, WorkerInfo

    job = sample_app.add.enqueue(1, 2)
    (claimed,) = sample.backend.claim("old-worker", ["default"], 1, 30.0)
    sample.backend.postpone([Postponed(claimed.id, claimed.token, "w", "g")], 3600.0)
    sample.backend.register_worker(WorkerInfo("old-worker", "h", 1, 0.0, ("default",), ()))
    table = run.on_store("stats").stdout
    assert "1 worker running." in table
    assert "Jobs waiting for a task no running worker has registered:" in table
    assert f"{job.task}: 1 job(s), handed back since" in table
    data = json.loads(run.on_store("stats", "--json").stdout)
    assert data["workers"] == 1
    assert list(data["waiting_for_tasks"]) == [job.task]
    assert data["waiting_for_tasks"][job.task]["jobs"] == 1
    parse_utc(data["waiting_for_tasks"][job.task]["since"])
    shown = run.on_store("show", job.id).stdout
    assert "task unknown  since" in shown and "lost leases   0 of at most 3" in shown

    # A worker that has the task comes: the jobs no longer wait for a task nobody has.
    sample.backend.register_worker(WorkerInfo("new-worker", "h", 2, 0.0, ("default",),
                                               (job.task,)))
    data = json.loads(run.on_store("stats", "--json").stdout)
    assert (data["workers"], data["waiting_for_tasks"]) == (2, {})


def test_show_counts_lost_leases(run: Jobq, sample: jobq.App) -> None:
    job = sample_app.add.enqueue(1, 2)
    sample.backend.claim("gone", ["default"], 1, 30.0)
    sample.backend.reap(now=time.time() + 3600)
    assert "lost leases   1 of at most 3" in run.on_store("show", job.id).stdout
    data = json.loads(run.on_store("show", job.id, "--json").stdout)
    assert (data["lost_leases"], data["max_lost"], data["attempts"]) == (1, 3, 0)


def test_show_and_stats_tell_of_a_job_held_by_its_limit(run: Jobq, sample: jobq.App) -> None:
    limited = sample.task(name="limited", concurrency_limit=1,
                          limit_key=lambda account: f"acct:{account}")(lambda account: None)
    limited.enqueue(7)
    held = limited.enqueue(7)
    sample.backend.claim("w", ["default"], 10, 30.0)
    out = run.on_store("show", held.id).stdout
    assert "limit key" in out and "acct:7" in out
    assert "limit held" in out and "without using an attempt" in out
    assert json.loads(run.on_store("show", held.id, "--json").stdout)["limit_key"] == "acct:7"
    assert json.loads(run.on_store("stats", "--json").stdout)["waiting_on_limits"] == 1
    assert "1 waiting job(s) held back by their rate or concurrency limit" in (
        run.on_store("stats").stdout)
