"""``jobq.current_job()``: what a running task can learn about its own job."""

from __future__ import annotations

import pytest

import jobq


def test_current_job_shows_the_attempt_the_id_and_the_task(app: jobq.App) -> None:
    seen: list[jobq.worker.RunningJob] = []

    @app.task(name="introspect", queue="default", retries=1,
              backoff=jobq.Backoff(base=0, cap=0))
    def introspect() -> int:
        job = jobq.current_job()
        seen.append(job)
        if job.attempts == 1:
            raise ConnectionError("first attempt fails")
        return job.attempts

    job = introspect.enqueue()
    app.run_worker(concurrency=1, burst=True)

    assert job.result(timeout=1) == 2
    assert [s.attempts for s in seen] == [1, 2]
    assert {(s.id, s.task, s.queue, s.max_attempts) for s in seen} == {
        (job.id, "introspect", "default", 2)
    }
    assert not any(s.cancel_requested for s in seen)


def test_current_job_outside_a_task_says_where_it_works() -> None:
    with pytest.raises(jobq.JobqError, match="only available inside a task"):
        jobq.current_job()


def test_current_job_is_per_task_in_concurrent_threads(app: jobq.App) -> None:
    @app.task
    def whoami(n: int) -> list[object]:
        job = jobq.current_job()
        return [n, job.id]

    jobs = app.enqueue_many([whoami.call(n) for n in range(8)])
    app.run_worker(concurrency=4, burst=True)

    for n, job in enumerate(jobs):
        assert job.result(timeout=1) == [n, job.id]
