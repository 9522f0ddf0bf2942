"""The job's states, the only legal transitions between them, and the ``Job`` handle."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobq.config import checked_keywords
from jobq.errors import IllegalTransition, JobCancelled, JobFailed, JobNotFound

if TYPE_CHECKING:
    from jobq.app import App


class Status(enum.StrEnum):
    """Where a job is in its life; see DESIGN §2."""

    BLOCKED = "blocked"
    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The whole state machine. Backends enforce it again in their conditional writes.
# running -> cancelled is the end of a cooperative cancel: the task stopped itself
# after cancel() was asked while it ran. blocked -> scheduled: a job whose dependencies
# all succeeded before its own run_at. failed/cancelled -> blocked: a retry of a job
# (or of the dependency that failed it) whose dependencies have not all succeeded yet.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.BLOCKED: frozenset({Status.PENDING, Status.SCHEDULED, Status.CANCELLED,
                               Status.FAILED}),
    Status.SCHEDULED: frozenset({Status.PENDING, Status.CANCELLED}),
    # pending -> scheduled: a claim holds a job over its rate or concurrency limit until
    # its next allowed time (docs/limits.md); it never ran, so it uses no attempt.
    Status.PENDING: frozenset({Status.RUNNING, Status.SCHEDULED, Status.CANCELLED}),
    Status.RUNNING: frozenset(
        {Status.SUCCEEDED, Status.FAILED, Status.SCHEDULED, Status.PENDING, Status.CANCELLED}
    ),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset({Status.PENDING, Status.BLOCKED}),
    Status.CANCELLED: frozenset({Status.PENDING, Status.BLOCKED}),
}

FINISHED: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})
# What the retention setting deletes on its own. Failed jobs are the dead-letter list:
# they stay until someone purges them (`jobq purge --status failed`).
RETAINED_FOR_A_WHILE: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.CANCELLED})
WAITING: frozenset[Status] = frozenset({Status.BLOCKED, Status.SCHEDULED, Status.PENDING})


def check_transition(source: Status | str, target: Status | str) -> None:
    """Raise ``IllegalTransition`` unless the state machine allows ``source -> target``."""
    src, dst = Status(source), Status(target)
    if dst not in TRANSITIONS[src]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[src])) or "nothing (final)"
        raise IllegalTransition(
            f"a job cannot go from {src.value!r} to {dst.value!r}; from {src.value!r} it may go to "
            f"{allowed}"
        )


def sources_of(target: Status) -> tuple[str, ...]:
    """The states from which ``target`` may be reached, as strings for a SQL ``IN``/Lua check."""
    return tuple(sorted(s.value for s, dsts in TRANSITIONS.items() if target in dsts))


# Leases a job may lose before it ends failed with WorkerLost (the task option max_lost).
DEFAULT_MAX_LOST = 3


@dataclass(frozen=True)
class JobError:
    """Why an attempt failed: the exception type, its message and the traceback text."""

    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class JobRecord:
    """A job as the store holds it. Backends return these; ``Job`` wraps one."""

    id: str
    task: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    priority: int
    status: Status
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    key: str | None = None
    result: Any = None
    error: JobError | None = None
    timeout: float | None = None
    cancel_requested: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    # Leases this job lost: its worker was killed, froze or was cut off from the store
    # while it held the job. At ``max_lost`` the job ends failed with WorkerLost.
    lost_leases: int = 0
    max_lost: int = DEFAULT_MAX_LOST
    # Since when workers that lack this job's task have been handing it back (a rolling
    # deploy); None once a worker that has the task took it.
    unknown_task_since: datetime | None = None
    # A limited job's limit key (rate_limit / concurrency_limit, see docs/limits.md), and
    # since when a claim has been holding it back for its limit.
    limit_key: str | None = None
    limit_held_since: datetime | None = None


class Job:
    """A handle on one job. Cheap to make; ``refresh()`` re-reads it from the store."""

    _record: JobRecord
    # A just-enqueued job's record is built on first use: most callers keep only the id.
    _build: tuple[Callable[..., JobRecord], tuple[Any, ...]] | None = None

    def __init__(self, app: App, record: JobRecord) -> None:
        self._app = app
        self._id = record.id
        self._record = record

    @classmethod
    def _deferred(cls, app: App, job_id: str, build: Callable[..., JobRecord],
                  *args: Any) -> Job:
        """A handle whose record ``build(*args)`` makes when it is first needed."""
        job = cls.__new__(cls)
        job._app = app
        job._id = job_id
        job._build = (build, args)
        return job

    def __getattr__(self, name: str) -> Any:
        # Reached only while _record is unset, i.e. for a deferred handle.
        if name == "_record" and self._build is not None:
            build, args = self._build
            self._record = record = build(*args)
            self._build = None
            return record
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task} {self.status.value}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def record(self) -> JobRecord:
        return self._record

    @property
    def id(self) -> str:
        return self._id

    @property
    def task(self) -> str:
        return self._record.task

    @property
    def queue(self) -> str:
        return self._record.queue

    @property
    def status(self) -> Status:
        return self._record.status

    @property
    def attempts(self) -> int:
        return self._record.attempts

    @property
    def max_attempts(self) -> int:
        return self._record.max_attempts

    @property
    def lost_leases(self) -> int:
        return self._record.lost_leases

    @property
    def error(self) -> JobError | None:
        return self._record.error

    @property
    def created_at(self) -> datetime:
        return self._record.created_at

    @property
    def started_at(self) -> datetime | None:
        return self._record.started_at

    @property
    def finished_at(self) -> datetime | None:
        return self._record.finished_at

    @property
    def run_at(self) -> datetime:
        return self._record.run_at

    @property
    def key(self) -> str | None:
        return self._record.key

    def refresh(self) -> Job:
        """Re-read the job from the store and return ``self``."""
        record = self._app.backend.get(self.id)
        if record is None:
            raise JobNotFound(f"job {self.id} is no longer in the store (pruned by retention?)")
        self._record = record
        return self

    @checked_keywords
    def result(self, timeout: float | None = None, poll: float = 0.05) -> Any:
        """Wait for the job to finish and return its result.

        Raises ``JobFailed`` or ``JobCancelled`` if it ended that way, and ``TimeoutError``
        if it has not finished within ``timeout`` seconds (``None`` waits forever).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = min(poll, 0.005)
        while True:
            self.refresh()
            if self.status in FINISHED:
                return self._outcome()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"job {self.id} is still {self.status.value} after {timeout}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, poll)

    def _outcome(self) -> Any:
        if self.status is Status.SUCCEEDED:
            return self._record.result
        if self.status is Status.CANCELLED:
            raise JobCancelled(self.id)
        err = self._record.error or JobError("UnknownError", "no error was recorded")
        raise JobFailed(self.id, err.type, err.message, err.traceback)

    def cancel(self) -> bool:
        """Cancel the job: a waiting job never runs; a running one is asked to stop.

        Returns True if the job is now cancelled or a running job was asked to stop,
        False if it had already finished.
        """
        record, changed = self._app.backend.cancel(self.id)
        if record is None:
            raise JobNotFound(f"no job with id {self.id!r}")
        self._record = record
        # Asking a running job twice changes nothing in the store, but it is still asked.
        return changed or (record.status is Status.RUNNING and record.cancel_requested)
