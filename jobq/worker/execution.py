"""Running one attempt of a task: decode its arguments, call it, encode its result.

This part runs wherever the pool runs tasks: a pool thread, or a child process. It never
touches the store and never raises: whatever happens comes back as an ``AttemptOutcome``
for the worker loop to turn into the job's next state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Generator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from jobq.backends.base import ClaimedJob
from jobq.context import RunningJob, _current
from jobq.errors import Timeout
from jobq.serializer import encode_result
from jobq.task import Task
from jobq.worker.outcomes import AttemptOutcome, CorruptJob, failed


def timeout_error(claimed: ClaimedJob) -> Timeout:
    return Timeout(f"{claimed.task} ran past its {claimed.timeout}s time limit")


@dataclass(eq=False)
class Attempt:
    """The worker's bookkeeping for one claimed job, shared by its loop and its pool.

    Only the worker's process holds one; what crosses to wherever the task runs is the
    claimed job, and what comes back is an ``AttemptOutcome``.
    """

    claimed: ClaimedJob
    task: Task[..., Any] | None
    running: RunningJob
    started: float = 0.0  # monotonic; 0 until the pool starts it
    ended: float = 0.0  # monotonic; 0 until its outcome came
    # Seconds past the time limit before the loop gives up on it; the pool sets it.
    margin: float = 0.0
    finished: bool = False
    abandoned: bool = False  # the loop gave up on it (timeout, lost lease, shutdown)
    outcome: AttemptOutcome | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def deadline(self) -> float | None:
        """When the loop gives up on this attempt (monotonic), if it has a time limit."""
        timeout = self.claimed.timeout
        if timeout is None or not self.started:
            return None
        return self.started + timeout + self.margin

    def request_cancel(self) -> None:
        """Ask the task to stop: it sees ``cancel_requested``; a coroutine is cancelled."""
        self.running._request_cancel()

    def give_up(self, *, running: bool) -> bool | None:
        """Mark the attempt abandoned, if it has not finished (with ``running=False``,
        only if it has not started either). None if it was not given up; else whether
        it had started, which the pool must then stop as far as it can."""
        with self.lock:
            if self.finished or self.abandoned:
                return None
            started = bool(self.started)
            if started and not running:
                return None
            self.abandoned = True
        return started

    def end(self, outcome: AttemptOutcome) -> bool:
        """Record how the attempt ended, unless the loop gave up on it meanwhile (its
        late outcome is then discarded); True if recorded."""
        with self.lock:
            if self.abandoned:
                return False
            self.outcome, self.ended, self.finished = outcome, time.monotonic(), True
        return True


def decode_arguments(claimed: ClaimedJob) -> tuple[list[Any], dict[str, Any]]:
    try:
        args, kwargs = json.loads(claimed.args), json.loads(claimed.kwargs)
    except ValueError as exc:
        raise CorruptJob(f"job {claimed.id}: stored arguments are not valid JSON ({exc})") from None
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise CorruptJob(f"job {claimed.id}: stored arguments are not a JSON list and object")
    return args, kwargs


_thread_loops = threading.local()


def _event_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
    return loop


def close_thread_loop() -> None:
    """Close the calling thread's event loop, if it made one (a pool thread exiting)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, "loop", None)
    if loop is not None and not loop.is_closed():
        loop.close()
    _thread_loops.loop = None


class _TimeLimited:
    """Awaits a coroutine, turning the cancellation its time limit causes into a
    ``Timeout`` raised inside it, where the task can catch it and clean up."""

    def __init__(self, coro: Coroutine[Any, Any, Any], claimed: ClaimedJob,
                 task: asyncio.Task[Any]) -> None:
        self._coro = coro
        self._claimed = claimed
        self._task = task
        self.expired = False

    def __await__(self) -> Generator[Any, Any, Any]:
        inner = self._coro.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = inner.send(value) if error is None else inner.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = yield yielded
            except GeneratorExit:
                inner.close()
                raise
            except asyncio.CancelledError as exc:
                error = exc
                if self.expired:
                    # The cancel was ours: undo its count, so asyncio.timeout() and task
                    # groups inside the task still tell their own cancels apart.
                    self.expired = False
                    self._task.uncancel()
                    error = timeout_error(self._claimed)
            except BaseException as exc:
                error = exc


async def _run_coroutine(running: RunningJob, claimed: ClaimedJob,
                         coro: Coroutine[Any, Any, Any]) -> Any:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        running._when_cancelled(lambda: _cancel_soon(loop, task))
    timeout = claimed.timeout
    if timeout is None or task is None:
        return await coro
    limited = _TimeLimited(coro, claimed, task)

    def expire() -> None:
        limited.expired = True
        task.cancel()

    timer = loop.call_later(timeout, expire)
    try:
        return await limited
    finally:
        timer.cancel()


def _cancel_soon(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    # A closed loop raises RuntimeError: its coroutine has ended anyway.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(task.cancel)


SyncLimit = Callable[[ClaimedJob], AbstractContextManager[None]]


def execute(claimed: ClaimedJob, task: Task[..., Any], running: RunningJob,
            sync_limit: SyncLimit | None = None) -> AttemptOutcome:
    """Run one attempt to its end, on the calling thread, and say how it went.

    A coroutine gets its time limit on the thread's event loop; ``sync_limit``, where the
    caller can enforce one (a child process's main thread), bounds a plain function.
    """
    token = _current.set(running)
    try:
        args, kwargs = decode_arguments(claimed)
        if task.is_async:
            coro = task.fn(*args, **kwargs)
            value = _event_loop().run_until_complete(_run_coroutine(running, claimed, coro))
        else:
            bounded = sync_limit is not None and claimed.timeout is not None
            with sync_limit(claimed) if sync_limit and bounded else contextlib.nullcontext():
                value = task.fn(*args, **kwargs)
        return AttemptOutcome(result=encode_result(claimed.task, value))
    except BaseException as exc:
        return failed(exc, task, claimed, traceback.format_exc())
    finally:
        _current.reset(token)


async def execute_async(claimed: ClaimedJob, task: Task[..., Any],
                        running: RunningJob) -> AttemptOutcome:
    """Run one attempt of a coroutine task on the running event loop (the async pool's).

    It runs as an asyncio task, in a context of its own: ``current_job()`` is set there
    and needs no reset.
    """
    _current.set(running)
    try:
        args, kwargs = decode_arguments(claimed)
        value = await _run_coroutine(running, claimed, task.fn(*args, **kwargs))
        return AttemptOutcome(result=encode_result(claimed.task, value))
    except GeneratorExit:  # the coroutine is being closed (its loop is gone): let it
        raise
    except BaseException as exc:
        return failed(exc, task, claimed, traceback.format_exc())


def outcome_of(attempt: Attempt) -> AttemptOutcome:
    """Run the attempt on this thread, unless its outcome was known before it started."""
    if attempt.outcome is not None or attempt.task is None:
        assert attempt.outcome is not None, "an attempt with no task has its outcome set"
        return attempt.outcome
    return execute(attempt.claimed, attempt.task, attempt.running)
