"""When a finished job's outcome reaches the store while other jobs still run."""

from __future__ import annotations

import logging
import threading

import pytest

import jobq
from jobq.job import Status
from tests.waiting import wait_for
from tests.worker.harness import worker_thread


def test_a_short_job_is_recorded_while_a_long_one_still_runs(app: jobq.App) -> None:
    # Outcomes may wait a moment to share a round trip with others, but never for a job
    # that is still running: the short job reads succeeded long before the long one ends.
    release = threading.Event()

    @app.task
    def long_job() -> str:
        release.wait(60)
        return "long"

    @app.task
    def short_job() -> str:
        return "short"

    slow = long_job.enqueue()
    with worker_thread(app, concurrency=2):
        wait_for(lambda: app.get_job(slow.id).status is Status.RUNNING,  # type: ignore[union-attr]
                 what="the long job to start")
        quick = short_job.enqueue()
        assert quick.result(timeout=30) == "short"
        assert app.get_job(slow.id).status is Status.RUNNING  # type: ignore[union-attr]
        release.set()
        assert slow.result(timeout=30) == "long"


def test_each_state_change_is_one_info_line_with_structured_fields(
    app: jobq.App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobq.worker")

    @app.task(retries=1)
    def greet(name: str) -> str:
        return f"hello {name}"

    job = greet.enqueue("ada")
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == "hello ada"
    lines = [(r.getMessage(), getattr(r, "action", None)) for r in caplog.records
             if getattr(r, "job_id", None) == job.id]
    assert [action for _, action in lines] == ["running", "succeeded"]
    # The first line is written at claim time, so it says so rather than "started".
    assert lines[0][0] == f"job {job.id} ({greet.name}) claimed, attempt 1/2"
    assert lines[1][0].startswith(f"job {job.id} ({greet.name}) succeeded")
