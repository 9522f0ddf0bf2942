"""Hooks: what hears of each job a worker claims and of each outcome it records.

The worker calls every hook in turn from its loop; logging is the first, and metrics or
tracing join by passing ``hooks=[...]`` to the worker, never by changing the loop. A hook
runs on the worker's loop thread, so it must be quick; one that raises is logged and
the worker goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from jobq.backends.base import ClaimedJob, Outcome
from jobq.job import Status
from jobq.logs import WorkerLog
from jobq.worker.execution import Attempt
from jobq.worker.outcomes import job_fields


class Hook:
    """Override the methods you need; the defaults do nothing."""

    def on_claimed(self, job: ClaimedJob) -> None:
        """The worker claimed ``job`` (now ``running``); a pool will start it soon."""

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool,
                   duration: float | None) -> None:
        """The worker recorded ``outcome``. ``applied`` is False when the store refused
        it because another attempt holds the job's lease now; ``duration`` is how long
        the attempt ran, in seconds (None if it never started)."""


class LogHook(Hook):
    """One log line per state change, with the job's structured fields."""

    def __init__(self, log: WorkerLog) -> None:
        self.log = log

    def on_claimed(self, job: ClaimedJob) -> None:
        if not self.log.isEnabledFor(logging.INFO):  # with INFO off, build no fields per job
            return
        # Written when the job is claimed (its state becomes running), which with a
        # prefetch buffer can be a moment before a pool starts it: hence "claimed".
        self.log.info("job %s (%s) claimed, attempt %d/%d", job.id, job.task, job.attempts,
                      job.max_attempts, extra=job_fields(job, Status.RUNNING.value))

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool,
                   duration: float | None) -> None:
        log = self.log
        # Most outcomes are successes, logged at INFO: with INFO off, build no fields.
        if applied and outcome.status is Status.SUCCEEDED and not log.isEnabledFor(logging.INFO):
            return
        extra = _outcome_fields(job, outcome, duration)
        if not applied:
            log.warning(
                "job %s (%s): result discarded, its lease was taken over by another attempt",
                job.id, job.task, extra={**extra, "action": "lease_lost"},
            )
            return
        err = outcome.error
        if outcome.status is Status.SUCCEEDED:
            log.info("job %s (%s) succeeded", job.id, job.task, extra=extra)
        elif outcome.status is Status.SCHEDULED:
            log.warning(
                "job %s (%s) attempt %d/%d failed (%s: %s); retry in %.1fs", job.id, job.task,
                job.attempts, job.max_attempts, err and err.type, err and err.message,
                (outcome.run_at or 0) - time.time(), extra=extra,
            )
        elif outcome.status is Status.FAILED:
            log.error("job %s (%s) failed after %d attempt(s): %s: %s", job.id, job.task,
                      job.attempts, err and err.type, err and err.message, extra=extra)
        elif outcome.status is Status.CANCELLED:
            log.info("job %s (%s) cancelled while running", job.id, job.task, extra=extra)
        else:
            log.info("job %s (%s) handed back to the queue", job.id, job.task, extra=extra)


def _outcome_fields(job: ClaimedJob, outcome: Outcome,
                    duration: float | None) -> dict[str, Any]:
    extra = job_fields(job, outcome.status.value)
    if duration is not None:
        extra["duration"] = round(duration, 6)
    if outcome.error is not None:
        extra["error_type"] = outcome.error.type
        extra["error_message"] = outcome.error.message
    return extra


class Hooks:
    """The worker's hooks, called in order; a hook that raises is logged and skipped."""

    def __init__(self, log: WorkerLog, hooks: tuple[Hook, ...]) -> None:
        self._log = log
        self._hooks = (LogHook(log), *hooks)

    def claimed(self, attempt: Attempt) -> None:
        job = attempt.claimed
        self._each(job, lambda hook: hook.on_claimed(job))

    def outcome(self, attempt: Attempt, outcome: Outcome, applied: bool) -> None:
        job, duration = attempt.claimed, None
        if attempt.started:
            # A timed-out attempt, given up on, has not ended.
            duration = (attempt.ended or time.monotonic()) - attempt.started
        self._each(job, lambda hook: hook.on_outcome(job, outcome, applied, duration))

    def _each(self, job: ClaimedJob, call: Callable[[Hook], None]) -> None:
        for hook in self._hooks:
            try:
                call(hook)
            except Exception:
                self._log.exception("hook %r failed on job %s", hook, job.id,
                                    extra={"job_id": job.id, "action": "hook_error"})
