"""When a finished job's outcome reaches the store while other jobs still run."""

from __future__ import annotations

import threading

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
