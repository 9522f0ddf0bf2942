"""Turning a finished attempt into the job's next state, and logging the change."""

from __future__ import annotations

import logging
import time
from typing import Any

from jobq.backends.base import Outcome
from jobq.errors import UnknownTask
from jobq.job import JobError, Status
from jobq.logs import WorkerLog
from jobq.retry import RetryPolicy
from jobq.worker.execution import Attempt, CorruptJob

# Failures that no retry can mend.
_NEVER_RETRIED = (CorruptJob, UnknownTask)


def error_of(exc: BaseException, tb: str = "") -> JobError:
    message = str(exc) or exc.__class__.__doc__ or ""
    # PostgreSQL's text cannot hold NUL: a raw one would make every finish of this
    # outcome fail, and the worker retry it for ever. It is kept visible, as \x00.
    return JobError(_no_nul(type(exc).__name__), _no_nul(message.strip()), _no_nul(tb))


def _no_nul(text: str) -> str:
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def decide(attempt: Attempt, failure: BaseException | None = None,
           now: float | None = None) -> Outcome:
    """The outcome of an attempt: success, retry later, cancelled, or failed.

    ``failure`` is how the loop ended an attempt it gave up on (its time limit); the
    attempt's own result and exception are then ignored, as its thread may still write
    them.
    """
    claimed = attempt.claimed
    exc = attempt.exception if failure is None else failure
    if exc is None:
        return Outcome(claimed.id, claimed.token, Status.SUCCEEDED, result=attempt.result)
    error = error_of(exc, attempt.traceback if failure is None else "")
    if attempt.running.cancel_requested:
        return Outcome(claimed.id, claimed.token, Status.CANCELLED, error=error)
    delay: float | None = None
    if attempt.task is not None and not isinstance(exc, _NEVER_RETRIED):
        policy: RetryPolicy = attempt.task.options.policy
        delay = policy.next_delay(exc, claimed.attempts, claimed.max_attempts)
    if delay is None:
        return Outcome(claimed.id, claimed.token, Status.FAILED, error=error)
    run_at = (time.time() if now is None else now) + delay
    return Outcome(claimed.id, claimed.token, Status.SCHEDULED, error=error, run_at=run_at)


def cancelled(attempt: Attempt) -> Outcome:
    """A job asked to cancel before its attempt started: it never runs."""
    return Outcome(attempt.claimed.id, attempt.claimed.token, Status.CANCELLED)


def released(attempt: Attempt) -> Outcome:
    """Hand an unfinished job back to the queue (worker stopping)."""
    return Outcome(attempt.claimed.id, attempt.claimed.token, Status.PENDING)


def job_fields(attempt: Attempt, action: str) -> dict[str, Any]:
    """The structured fields of a record about an attempt's job."""
    job = attempt.claimed
    return {"job_id": job.id, "task": job.task, "queue": job.queue, "attempt": job.attempts,
            "action": action}


def log_started(logger: WorkerLog, attempt: Attempt) -> None:
    if not logger.isEnabledFor(logging.INFO):  # with INFO off, build no fields per job
        return
    job = attempt.claimed
    # Written when the job is claimed (its state becomes running), which with a prefetch
    # buffer can be a moment before a thread starts it: hence "claimed", not "started".
    logger.info("job %s (%s) claimed, attempt %d/%d", job.id, job.task, job.attempts,
                job.max_attempts, extra=job_fields(attempt, Status.RUNNING.value))


def _outcome_fields(attempt: Attempt, outcome: Outcome) -> dict[str, Any]:
    extra = job_fields(attempt, outcome.status.value)
    if attempt.started:
        ended = attempt.ended or time.monotonic()  # a timed-out attempt has not ended
        extra["duration"] = round(ended - attempt.started, 6)
    if outcome.error is not None:
        extra["error_type"] = outcome.error.type
        extra["error_message"] = outcome.error.message
    return extra


def log_outcome(logger: WorkerLog, attempt: Attempt, outcome: Outcome, applied: bool) -> None:
    # Most outcomes are successes, logged at INFO: with INFO off, build no fields for them.
    if applied and outcome.status is Status.SUCCEEDED and not logger.isEnabledFor(logging.INFO):
        return
    claimed = attempt.claimed
    extra = _outcome_fields(attempt, outcome)
    if not applied:
        logger.warning(
            "job %s (%s): result discarded, its lease was taken over by another attempt",
            claimed.id, claimed.task, extra={**extra, "action": "lease_lost"},
        )
        return
    if outcome.status is Status.SUCCEEDED:
        logger.info("job %s (%s) succeeded", claimed.id, claimed.task, extra=extra)
    elif outcome.status is Status.SCHEDULED:
        err = outcome.error
        logger.warning(
            "job %s (%s) attempt %d/%d failed (%s: %s); retry in %.1fs", claimed.id,
            claimed.task, claimed.attempts, claimed.max_attempts, err and err.type,
            err and err.message, (outcome.run_at or 0) - time.time(), extra=extra,
        )
    elif outcome.status is Status.FAILED:
        err = outcome.error
        logger.error("job %s (%s) failed after %d attempt(s): %s: %s", claimed.id,
                     claimed.task, claimed.attempts, err and err.type, err and err.message,
                     extra=extra)
    elif outcome.status is Status.CANCELLED:
        logger.info("job %s (%s) cancelled while running", claimed.id, claimed.task, extra=extra)
    else:
        logger.info("job %s (%s) handed back to the queue", claimed.id, claimed.task, extra=extra)
