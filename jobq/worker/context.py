"""What a running task can learn about its own job: ``jobq.current_job()``."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field

from jobq.errors import JobqError


@dataclass
class RunningJob:
    """The job the current task is running for.

    ``attempts`` counts this attempt (1 on the first run); ``cancel_requested`` turns true
    when someone calls ``cancel()`` on the job, or when the worker has given up on this
    attempt (time limit passed, lease lost), so a long task can stop cooperatively.
    """

    id: str
    task: str
    queue: str
    attempts: int
    max_attempts: int
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


_current: ContextVar[RunningJob | None] = ContextVar("jobq_current_job", default=None)


def current_job() -> RunningJob:
    """The job being run by the calling task; raises outside a task."""
    job = _current.get()
    if job is None:
        raise JobqError("current_job() is only available inside a task run by a jobq worker")
    return job
