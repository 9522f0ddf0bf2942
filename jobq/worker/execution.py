"""Running one attempt of a task: decode its arguments, call it, encode its result.

This part runs on a pool thread. It never touches the store and never raises: whatever
happens comes back as an ``Attempt`` for the worker loop to turn into an outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import traceback
from collections.abc import Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from jobq.backends.base import ClaimedJob
from jobq.errors import JobqError, Timeout
from jobq.serializer import encode_result
from jobq.task import Task
from jobq.worker.context import RunningJob, _current

# A coroutine gets its Timeout raised inside it at the limit; the loop abandons its thread
# only if it is still running this much later (it blocked the event loop, or swallowed
# the Timeout and carried on).
ASYNC_MARGIN = 1.0


class CorruptJob(JobqError):
    """The stored job cannot be decoded (damaged or written by something else)."""


def timeout_error(claimed: ClaimedJob) -> Timeout:
    return Timeout(f"{claimed.task} ran past its {claimed.timeout}s time limit")


@dataclass
class Attempt:
    """One run of one claimed job, shared between the loop and the pool thread."""

    claimed: ClaimedJob
    task: Task[..., Any] | None
    running: RunningJob
    started: float = 0.0  # monotonic; 0 until a thread picks it up
    ended: float = 0.0  # monotonic; 0 until the task returned or raised
    finished: bool = False
    abandoned: bool = False  # the loop gave up on it (timeout, lost lease, shutdown)
    result: str | None = None
    exception: BaseException | None = None
    traceback: str = ""
    async_task: asyncio.Task[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def deadline(self) -> float | None:
        """When the loop gives up on this attempt (monotonic), if it has a time limit."""
        timeout = self.claimed.timeout
        if timeout is None or not self.started:
            return None
        margin = ASYNC_MARGIN if self.task is not None and self.task.is_async else 0.0
        return self.started + timeout + margin

    def request_cancel(self) -> None:
        """Ask the task to stop: it sees ``cancel_requested``; a coroutine is cancelled."""
        self.running._cancel.set()
        task, loop = self.async_task, self.loop
        if task is not None and loop is not None:
            # A closed loop raises RuntimeError: its coroutine has ended anyway.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)


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


async def _run_coroutine(attempt: Attempt, coro: Coroutine[Any, Any, Any]) -> Any:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    attempt.async_task, attempt.loop = task, loop
    if attempt.running.cancel_requested and task is not None:
        task.cancel()  # asked before the coroutine could be reached
    timeout = attempt.claimed.timeout
    if timeout is None or task is None:
        return await coro
    limited = _TimeLimited(coro, attempt.claimed, task)

    def expire() -> None:
        limited.expired = True
        task.cancel()

    timer = loop.call_later(timeout, expire)
    try:
        return await limited
    finally:
        timer.cancel()


def run_attempt(attempt: Attempt) -> None:
    """Run the attempt to its end and record how it went on ``attempt``."""
    if not attempt.started:
        attempt.started = time.monotonic()
    token = _current.set(attempt.running)
    try:
        if attempt.task is None:
            raise attempt.exception or CorruptJob("no task to run")
        args, kwargs = decode_arguments(attempt.claimed)
        if attempt.task.is_async:
            coro = attempt.task.fn(*args, **kwargs)
            value = _event_loop().run_until_complete(_run_coroutine(attempt, coro))
        else:
            value = attempt.task.fn(*args, **kwargs)
        attempt.result = encode_result(attempt.claimed.task, value)
    except BaseException as exc:
        attempt.exception = exc
        attempt.traceback = traceback.format_exc()
    finally:
        _current.reset(token)
        attempt.ended = time.monotonic()
        attempt.finished = True
