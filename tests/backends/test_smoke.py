from __future__ import annotations

import jobq


def test_enqueue_then_burst_worker_runs_the_job(app: jobq.App) -> None:
    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    job = add.enqueue(2, 3)
    assert job.status is jobq.Status.PENDING
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=5) == 5
    assert job.refresh().status is jobq.Status.SUCCEEDED
    assert job.attempts == 1
