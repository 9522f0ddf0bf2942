"""Hooks hear of every claim and every recorded outcome; one that raises is logged and
the worker goes on."""

from __future__ import annotations

import logging

import pytest

import jobq
from jobq import Status
from jobq.backends.base import ClaimedJob, Outcome
from jobq.worker import Hook


class Recorder(Hook):
    def __init__(self) -> None:
        self.claimed: list[str] = []
        self.outcomes: list[tuple[str, Status, bool]] = []
        self.durations: list[float | None] = []

    def on_claimed(self, job: ClaimedJob) -> None:
        self.claimed.append(job.id)

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool,
                   duration: float | None) -> None:
        self.outcomes.append((job.id, outcome.status, applied))
        self.durations.append(duration)


class Broken(Hook):
    def on_claimed(self, job: ClaimedJob) -> None:
        raise RuntimeError("hook bug")

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool,
                   duration: float | None) -> None:
        raise RuntimeError("hook bug")


def test_hooks_hear_each_claim_and_outcome_in_order(app: jobq.App) -> None:
    @app.task(retries=1, backoff=jobq.Backoff(base=0, cap=0))
    def flaky(n: int) -> int:
        if n == 1 and jobq.current_job().attempts == 1:
            raise ValueError("first attempt fails")
        return n

    jobs = [flaky.enqueue(n) for n in range(3)]
    recorder = Recorder()
    app.run_worker(concurrency=1, burst=True, hooks=[recorder])

    assert [job.result(timeout=1) for job in jobs] == [0, 1, 2]
    ids = [job.id for job in jobs]
    assert sorted(recorder.claimed) == sorted([*ids, ids[1]])
    assert sorted(recorder.outcomes) == sorted(
        [(i, Status.SUCCEEDED, True) for i in ids] + [(ids[1], Status.SCHEDULED, True)]
    )
    assert all(d is not None and d >= 0 for d in recorder.durations)


def test_a_hook_that_raises_is_logged_and_the_worker_goes_on(
    app: jobq.App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobq.worker")

    @app.task
    def double(n: int) -> int:
        return n * 2

    jobs = [double.enqueue(n) for n in range(3)]
    recorder = Recorder()
    app.run_worker(concurrency=2, burst=True, hooks=[Broken(), recorder])

    assert [job.result(timeout=1) for job in jobs] == [0, 2, 4]
    assert len(recorder.outcomes) == 3  # a hook after the broken one still hears
    failures = [r for r in caplog.records if getattr(r, "action", None) == "hook_error"]
    assert len(failures) == 6 and "hook bug" in (failures[0].exc_text or "")
    # The log lines themselves come first and are unchanged.
    assert sum(r.getMessage().endswith("succeeded") for r in caplog.records) == 3
