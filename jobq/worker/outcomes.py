"""How an attempt ended, and the job's next state that follows from it.

An ``AttemptOutcome`` is a plain, frozen value (a result as JSON, or an error with the
delay before the next attempt, if any), so it can come back from wherever the attempt ran:
a pool thread, the event loop, or a child process over a pipe. ``decide`` turns it into
the ``Outcome`` the store records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobq.backends.base import ClaimedJob, Outcome
from jobq.errors import JobqError, SerializationError, UnknownTask
from jobq.job import JobError, Status

if TYPE_CHECKING:
    from jobq.task import Task
    from jobq.worker.execution import Attempt


class CorruptJob(JobqError):
    """The stored job cannot be decoded (damaged or written by something else)."""


# Failures that no retry can mend.
_NEVER_RETRIED = (CorruptJob, UnknownTask)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt came to: ``result`` (JSON) if it returned, else ``error``, and
    ``retry_in``: seconds until the next attempt when the task's retry policy allows one."""

    result: str | None = None
    error: JobError | None = None
    retry_in: float | None = None

    def to_json(self) -> dict[str, Any]:
        error = self.error
        return {
            "result": self.result, "retry_in": self.retry_in,
            "error": None if error is None else [error.type, error.message, error.traceback],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttemptOutcome:
        """The value ``to_json`` made; anything else is refused, never half-read."""
        try:
            result, error, retry_in = data["result"], data["error"], data["retry_in"]
            if error is not None:
                kind, message, tb = error
                error = JobError(str(kind), str(message), str(tb))
            if not (result is None or isinstance(result, str)) or not (
                    retry_in is None or isinstance(retry_in, int | float)):
                raise TypeError("result or retry_in of the wrong type")
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"not an attempt outcome: {data!r} ({exc})") from None
        return cls(result, error, retry_in)


def error_of(exc: BaseException, tb: str = "") -> JobError:
    message = str(exc) or exc.__class__.__doc__ or ""
    # PostgreSQL's text cannot hold NUL: a raw one would make every finish of this
    # outcome fail, and the worker retry it for ever. It is kept visible, as \x00.
    return JobError(_no_nul(type(exc).__name__), _no_nul(message.strip()), _no_nul(tb))


def _no_nul(text: str) -> str:
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def failed(exc: BaseException, task: Task[..., Any] | None, claimed: ClaimedJob,
           tb: str = "") -> AttemptOutcome:
    """The outcome of an attempt that ended with ``exc``: whether and when it runs again is
    decided here, where the exception itself is (``retry_on`` checks its class)."""
    delay: float | None = None
    if task is not None and not isinstance(exc, _NEVER_RETRIED):
        delay = task.options.policy.next_delay(exc, claimed.attempts, claimed.max_attempts)
    return AttemptOutcome(error=error_of(exc, tb), retry_in=delay)


def decide(attempt: Attempt, ended: AttemptOutcome | None = None,
           now: float | None = None) -> Outcome:
    """The store outcome of an attempt: success, retry later, cancelled, or failed.

    ``ended`` is how the loop ended an attempt it gave up on (its time limit); what the
    attempt itself reported is then ignored, as its thread may still write it.
    """
    claimed = attempt.claimed
    ended = attempt.outcome if ended is None else ended
    if ended is None:
        raise JobqError(f"job {claimed.id}: the attempt has no outcome yet")
    if ended.error is None:
        return Outcome(claimed.id, claimed.token, Status.SUCCEEDED, result=ended.result)
    if attempt.running.cancel_requested:
        return Outcome(claimed.id, claimed.token, Status.CANCELLED, error=ended.error)
    if ended.retry_in is None:
        return Outcome(claimed.id, claimed.token, Status.FAILED, error=ended.error)
    run_at = (time.time() if now is None else now) + ended.retry_in
    return Outcome(claimed.id, claimed.token, Status.SCHEDULED, error=ended.error, run_at=run_at)


def cancelled(attempt: Attempt) -> Outcome:
    """A job asked to cancel before its attempt started: it never runs."""
    return Outcome(attempt.claimed.id, attempt.claimed.token, Status.CANCELLED)


def released(attempt: Attempt) -> Outcome:
    """Hand an unfinished job back to the queue (worker stopping)."""
    return Outcome(attempt.claimed.id, attempt.claimed.token, Status.PENDING)


def job_fields(job: ClaimedJob, action: str) -> dict[str, Any]:
    """The structured fields of a log record about a job."""
    return {"job_id": job.id, "task": job.task, "queue": job.queue, "attempt": job.attempts,
            "action": action}
