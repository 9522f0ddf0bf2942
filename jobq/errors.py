"""Every exception jobq raises: one root, a shallow tree, messages that say what to do."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobq.task import Call


def one_line(message: str) -> str:
    """A multi-line message (a driver's, say) folded onto one line."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


class JobqError(Exception):
    """Root of every error jobq raises on purpose."""


class ConfigError(JobqError, ValueError):
    """A setting, option or argument is wrong; the message names it."""


class BackendError(JobqError):
    """The store could not be reached or refused the operation."""


class SchemaError(BackendError):
    """The store's schema is missing, newer than this jobq, or needs a migration."""


class EnqueueIncomplete(BackendError):
    """``enqueue_many`` failed part way on a store that writes a batch in chunks (Redis).

    ``stored``: ids of the jobs the store confirmed; ``unconfirmed``: ids sent whose reply
    was lost (stored or not; the store may still apply them); ``not_stored``: ids never
    sent. ``calls``: every call of the batch, in order, each with its job's id fixed:
    ``app.enqueue_many(error.calls)`` stores what is missing, none of it twice, and
    returns all the jobs.
    """

    def __init__(self, reason: str, stored: list[str], unconfirmed: list[str],
                 not_stored: list[str]) -> None:
        total = len(stored) + len(unconfirmed) + len(not_stored)
        doubt = (f"; {len(unconfirmed):,} were sent without a reply (they may be stored)"
                 if unconfirmed else "")
        super().__init__(
            f"enqueue_many stored {len(stored):,} of {total:,} jobs before it failed: "
            f"{reason}{doubt}; call app.enqueue_many(error.calls) to store the rest: "
            "the jobs keep their ids, so none is stored twice"
        )
        self.stored = stored
        self.unconfirmed = unconfirmed
        self.not_stored = not_stored
        self.calls: list[Call] = []


class KeyConflict(JobqError):
    """A job cannot run again because another live job holds its idempotency key."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"job {job_id} cannot run again: another live job holds its idempotency key; "
            "cancel that job or wait for it to finish, then retry"
        )
        self.job_id = job_id


class UnknownTask(JobqError, LookupError):
    """No task is registered under the given name."""


class TaskNotImportable(JobqError, ImportError):
    """The worker could not import the module or attribute named by --app or a task."""


class SerializationError(JobqError, TypeError):
    """Arguments or a result could not be encoded as JSON."""


class ArgumentError(JobqError, TypeError):
    """The arguments given for a task do not fit its function; nothing was enqueued."""


class LimitKeyError(JobqError, ValueError):
    """A task's ``limit_key`` function raised or returned no string; nothing was enqueued."""


class IllegalTransition(JobqError):
    """A job was asked to move between two states the state machine does not connect."""


class JobNotFound(JobqError, LookupError):
    """No job has the given id."""


class DependencyFailed(JobqError):
    """A job cannot run because a job it depends on failed or was cancelled.

    Raised by an enqueue whose dependency has already failed or been cancelled (nothing is
    stored), and by a retry whose dependency is still failed. It is also the error type a
    waiting job ends with when a dependency of it fails: its message names that dependency
    (id, task and its error).
    """

    def __init__(self, message: str, dependency: str | None = None) -> None:
        super().__init__(message)
        self.dependency = dependency


class JobFailed(JobqError):
    """Raised by ``Job.result()`` when the job ended ``failed``."""

    def __init__(self, job_id: str, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(f"job {job_id} failed: {error_type}: {message}")
        self.job_id = job_id
        self.error_type = error_type
        self.error_message = message
        self.traceback = traceback


class JobCancelled(JobqError):
    """Raised by ``Job.result()`` when the job was cancelled."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id


class Timeout(JobqError):
    """A task ran past its time limit."""


class WorkerLost(JobqError):
    """What ran a job died under it: its worker stopped heartbeating (the lease ran out),
    or its process pool child crashed (the message names the signal or exit code)."""


class Retry(JobqError):
    """Raise inside a task to run it again later, counting an attempt.

    ``delay`` (seconds) overrides the task's backoff for this retry.
    """

    def __init__(self, delay: float | None = None, reason: str = "") -> None:
        if delay is not None and (
            isinstance(delay, bool) or not isinstance(delay, int | float)
            or not math.isfinite(delay) or delay < 0
        ):
            raise ConfigError(
                f"Retry(delay={delay!r}): the delay must be zero or a positive number of seconds"
            )
        super().__init__(reason or (f"retry requested in {delay}s" if delay else "retry requested"))
        self.delay = delay
