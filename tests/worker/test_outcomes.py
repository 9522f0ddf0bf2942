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


def test_records_about_a_job_carry_its_queue_attempt_duration_error_and_worker(
    app: jobq.App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobq.worker")

    @app.task(queue="mail", retries=1, backoff=jobq.Backoff(base=0, cap=0))
    def flaky() -> str:
        if jobq.current_job().attempts == 1:
            raise ConnectionError("first try fails")
        return "ok"

    job = flaky.enqueue()
    with worker_thread(app, concurrency=1, queues=["mail"], name="w-fields") as worker:
        assert job.result(timeout=30) == "ok"
    records = [r for r in caplog.records if getattr(r, "job_id", None) == job.id]
    fields = [{k: getattr(r, k, None) for k in ("action", "queue", "attempt", "error_type",
                                                "error_message", "worker")}
              for r in records]
    assert fields == [
        {"action": "running", "queue": "mail", "attempt": 1, "error_type": None,
         "error_message": None, "worker": worker.id},
        {"action": "scheduled", "queue": "mail", "attempt": 1,
         "error_type": "ConnectionError", "error_message": "first try fails",
         "worker": worker.id},
        {"action": "running", "queue": "mail", "attempt": 2, "error_type": None,
         "error_message": None, "worker": worker.id},
        {"action": "succeeded", "queue": "mail", "attempt": 2, "error_type": None,
         "error_message": None, "worker": worker.id},
    ]
    durations = [getattr(r, "duration", None) for r in records]
    assert durations[0] is None and durations[2] is None  # claimed: nothing ran yet
    assert all(isinstance(d, float) and d >= 0 for d in (durations[1], durations[3]))
    # Worker-wide records carry the worker too.
    assert any(getattr(r, "action", None) == "worker_start" and r.worker == worker.id  # type: ignore[attr-defined]
               for r in caplog.records)


def test_an_error_holding_nul_is_recorded_with_the_nul_made_visible(app: jobq.App) -> None:
    # PostgreSQL's text cannot hold NUL: stored raw, the outcome would never be recorded and
    # the worker would retry it for ever, holding up every outcome batched with it.
    @app.task
    def nul_error() -> None:
        raise ValueError("before\x00after")

    @app.task
    def fine() -> str:
        return "ok"

    bad, good = nul_error.enqueue(), fine.enqueue()
    app.run_worker(concurrency=2, burst=True)
    assert good.result(timeout=5) == "ok"
    with pytest.raises(jobq.JobFailed) as info:
        bad.result(timeout=5)
    assert info.value.error_message == "before\\x00after"
    assert "\x00" not in info.value.traceback and "before\\x00after" in info.value.traceback
