"""Running one attempt of a task: decode its arguments, call it, encode its result.

This part runs on a pool thread. It never touches the store and never raises: whatever
happens comes back as an ``Attempt`` for the worker loop to turn into an outcome.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from jobq.backends.base import ClaimedJob
from jobq.errors import JobqError, Timeout
from jobq.serializer import encode_result
from jobq.task import Task
from jobq.worker.context import RunningJob, _current


class CorruptJob(JobqError):
    """The stored job cannot be decoded (damaged or written by something else)."""


@dataclass
class Attempt:
    """One run of one claimed job, shared between the loop and the pool thread."""

    claimed: ClaimedJob
    task: Task[..., Any] | None
    running: RunningJob
    started: float = 0.0  # monotonic; 0 until a thread picks it up
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
        timeout = self.claimed.timeout
        if timeout is None or not self.started:
            return None
        return self.started + timeout

    def request_cancel(self) -> None:
        self.running._cancel.set()
        if self.async_task is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(self.async_task.cancel)


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


async def _run_coroutine(attempt: Attempt, coro: Coroutine[Any, Any, Any]) -> Any:
    attempt.async_task = asyncio.current_task()
    attempt.loop = asyncio.get_running_loop()
    timeout = attempt.claimed.timeout
    if timeout is None:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        raise Timeout(f"{attempt.claimed.task} ran past its {timeout}s time limit") from None


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
        attempt.finished = True
