"""jobq retry, cancel, purge and migrate: what they change, and what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobq
from tests.cli import sample_app
from tests.cli.conftest import Jobq, burst, snapshot


def failed_job(app: jobq.App) -> jobq.Job:
    job = sample_app.explode.enqueue("disk full")
    burst(app)
    return job.refresh()


def test_retry_puts_a_failed_job_back_with_fresh_attempts(run: Jobq, sample: jobq.App) -> None:
    job = failed_job(sample)
    assert job.status is jobq.Status.FAILED and job.attempts == 1
    result = run.on_store("retry", job.id)
    assert result.exit_code == 0, result.output
    assert f"job {job.id} (explode) is pending again" in result.stdout
    job.refresh()
    assert job.status is jobq.Status.PENDING and job.attempts == 0 and job.error is None


def test_retry_json(run: Jobq, sample: jobq.App) -> None:
    job = failed_job(sample)
    shown = json.loads(run.on_store("retry", job.id, "--json").stdout)
    assert shown["id"] == job.id and shown["status"] == "pending" and shown["error"] is None


def test_retry_of_a_job_that_did_not_fail_exits_1_and_changes_nothing(
    run: Jobq, sample: jobq.App
) -> None:
    job = sample_app.add.enqueue(1, 1)
    burst(sample)
    before = snapshot(run.url)
    result = run.on_store("retry", job.id)
    assert result.exit_code == 1
    assert "is succeeded; only failed or cancelled jobs can be retried" in result.stderr
    assert snapshot(run.url) == before
    unknown = run.on_store("retry", "nope")
    assert unknown.exit_code == 1 and "no job with id 'nope'" in unknown.stderr
    assert snapshot(run.url) == before


def test_cancel_a_waiting_job(run: Jobq, sample: jobq.App) -> None:
    job = sample_app.greet.with_options(delay=600).enqueue("ada")
    result = run.on_store("cancel", job.id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"job {job.id} is cancelled"
    assert job.refresh().status is jobq.Status.CANCELLED
    assert json.loads(run.on_store("show", job.id, "--json").stdout)["status"] == "cancelled"
    again = run.on_store("cancel", job.id)  # as app.cancel() gives False: nothing changed
    assert again.exit_code == 1
    assert f"job {job.id} already ended cancelled; there is nothing to cancel" in again.stderr


def test_cancel_a_finished_or_unknown_job_exits_1_and_changes_nothing(
    run: Jobq, sample: jobq.App
) -> None:
    job = sample_app.add.enqueue(1, 1)
    burst(sample)
    before = snapshot(run.url)
    result = run.on_store("cancel", job.id)
    assert result.exit_code == 1
    assert f"job {job.id} already ended succeeded; there is nothing to cancel" in result.stderr
    unknown = run.on_store("cancel", "nope")
    assert unknown.exit_code == 1 and "no job with id 'nope'" in unknown.stderr
    assert snapshot(run.url) == before


def seed_finished(app: jobq.App) -> dict[str, str]:
    ids = {
        "succeeded": sample_app.add.enqueue(1, 2).id,
        "failed": sample_app.explode.enqueue().id,
    }
    burst(app)
    cancelled = sample_app.greet.with_options(delay=600).enqueue("x")
    cancelled.cancel()
    ids["cancelled"] = cancelled.id
    ids["pending"] = sample_app.greet.with_options(delay=600).enqueue("y").id
    return ids


def statuses(url: str) -> list[str]:
    return sorted(job["status"] for job in snapshot(url))


def test_purge_deletes_succeeded_jobs_by_default(run: Jobq, sample: jobq.App) -> None:
    seed_finished(sample)
    result = run.on_store("purge", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "deleted 1 succeeded job(s)"
    assert statuses(run.url) == ["cancelled", "failed", "scheduled"]


def test_purge_chosen_statuses_json(run: Jobq, sample: jobq.App) -> None:
    seed_finished(sample)
    result = run.on_store("purge", "--status", "failed,cancelled", "--yes", "--json")
    assert json.loads(result.stdout) == {
        "deleted": 2, "statuses": ["failed", "cancelled"], "older_than": 0.0,
    }
    assert statuses(run.url) == ["scheduled", "succeeded"]


def test_purge_older_than_keeps_recent_jobs(run: Jobq, sample: jobq.App) -> None:
    seed_finished(sample)
    before = snapshot(run.url)
    result = run.on_store("purge", "--older-than", "3600", "--yes")
    assert result.exit_code == 0 and "deleted 0" in result.stdout
    assert snapshot(run.url) == before


def test_purge_asks_first_and_a_no_deletes_nothing(run: Jobq, sample: jobq.App) -> None:
    seed_finished(sample)
    before = snapshot(run.url)
    result = run.on_store("purge", input="n\n")
    assert result.exit_code == 1
    assert "Delete succeeded jobs" in result.stderr and "(up to 1)" in result.stderr
    assert snapshot(run.url) == before
    yes = run.on_store("purge", input="y\n")
    assert yes.exit_code == 0 and statuses(run.url) == ["cancelled", "failed", "scheduled"]


@pytest.mark.parametrize("status", ["pending", "running", "failed,bogus"])
def test_purge_refuses_unfinished_states(run: Jobq, sample: jobq.App, status: str) -> None:
    seed_finished(sample)
    before = snapshot(run.url)
    result = run.on_store("purge", "--status", status, "--yes")
    assert result.exit_code == 2
    assert "only finished jobs can be purged" in result.stderr
    assert snapshot(run.url) == before


def test_migrate_creates_the_store(run: Jobq, tmp_path: Path) -> None:
    result = run.on_store("migrate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{run.url}: jobq schema at version ")
    assert (tmp_path / "jobs.db").exists()
    assert json.loads(run.on_store("stats", "--json").stdout)["queues"] == {}
    assert run.on_store("migrate").exit_code == 0  # again: nothing to do, still fine


def test_purge_keeps_the_throughput_history(run: Jobq, sample: jobq.App) -> None:
    sample_app.add.enqueue(1, 1)
    failed_job(sample)  # the burst worker runs both and records them
    before = sample.backend.throughput(0)
    assert sum(row.succeeded for row in before) == 1 and sum(r.failed for r in before) == 1
    result = run.on_store("purge", "--status", "succeeded,failed", "--yes")
    assert result.exit_code == 0 and "deleted 2" in result.stdout
    assert sample.backend.throughput(0) == before
