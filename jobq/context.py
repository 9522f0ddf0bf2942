"""What a running task can learn about its own job: ``jobq.current_job()``."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    # How the pool passes a cancel request on (cancel a coroutine, tell a child process).
    _on_cancel: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _request_cancel(self) -> None:
        self._cancel.set()
        for callback in list(self._on_cancel):
            callback()

    def _when_cancelled(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on a cancel request, at once if one came already."""
        self._on_cancel.append(callback)
        if self.cancel_requested:
            callback()


_current: ContextVar[RunningJob | None] = ContextVar("jobq_current_job", default=None)


def current_job() -> RunningJob:
    """The job being run by the calling task; raises outside a task."""
    job = _current.get()
    if job is None:
        raise JobqError("current_job() is only available inside a task run by a jobq worker")
    return job
