"""The worker keeps going past bad jobs, and stops (saying why) when a side loop dies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.worker import Worker
from tests.waiting import wait_for


def test_a_job_for_a_task_the_worker_lacks_waits_for_one_that_has_it(
    make_app: Callable[..., jobq.App], caplog: pytest.LogCaptureFixture,
) -> None:
    producer = make_app()
    worker_app = make_app()

    @producer.task(name="only_in_producer", retries=3)
    def only_in_producer() -> None:
        raise AssertionError("the worker cannot know this task")

    @producer.task(name="everywhere")
    def everywhere_producer(n: int) -> int:
        return -1

    @worker_app.task(name="everywhere")
    def everywhere(n: int) -> int:
        return n * 2

    ghosts = [only_in_producer.enqueue() for _ in range(2)]
    after = [everywhere_producer.enqueue(n) for n in range(3)]
    with caplog.at_level(logging.WARNING, logger="jobq"):
        worker_app.run_worker(concurrency=1, burst=True)

    assert [job.result(timeout=1) for job in after] == [0, 2, 4]
    for ghost in ghosts:
        record = ghost.refresh().record
        # Handed back for a worker that has the task: no attempt used, nothing failed.
        assert (record.status, record.attempts) == (Status.SCHEDULED, 0)
        assert record.unknown_task_since is not None
        assert record.error is not None and record.error.type == "UnknownTask"
        assert "only_in_producer" in record.error.message
        assert 1 <= (record.run_at - record.unknown_task_since).total_seconds() <= 60
    said = [r for r in caplog.records if getattr(r, "action", "") == "unknown_task"]
    assert len(said) == 1 and "only_in_producer" in said[0].getMessage()  # once per task


def test_a_side_loop_that_crashes_stops_the_worker_and_names_the_loop(
    make_app: Callable[..., jobq.App], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(lease=1.0)
    started = threading.Event()
    release = threading.Event()

    @app.task
    def waits() -> None:
        started.set()
        release.wait(20)

    job = waits.enqueue()

    def broken_heartbeat(*args: Any, **kwargs: Any) -> Any:
        # A fault that is not a store error: a bug, not a store restarting.
        raise RuntimeError("heartbeat bug")

    # The store itself stays real; only the heartbeat call is made to fail.
    monkeypatch.setattr(app.backend, "heartbeat", broken_heartbeat)
    worker = Worker(app, concurrency=1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(started.is_set, what="the job to start")
        thread.join(20)
        assert not thread.is_alive(), "the worker kept running after its heartbeat loop died"
    finally:
        worker.stop(graceful=False)
        release.set()
        thread.join(20)

    (error,) = errors
    assert isinstance(error, jobq.JobqError)
    assert "heartbeat loop crashed" in str(error)
    assert "heartbeat bug" in str(error)
    # The job it held went back to the queue for another worker.
    job.refresh()
    assert (job.status, job.attempts) == (Status.PENDING, 0)
