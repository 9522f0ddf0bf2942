"""The async pool: one event loop, in a thread of its own, running up to ``size``
coroutine tasks at once; plain functions run on a bounded thread pool beside it.

Heartbeats run on the worker's side-loop thread, never on this event loop, so a task
that blocks the loop (``time.sleep`` inside an ``async def``) keeps its lease; a watchdog
thread notices and logs which job blocks the loop, and for how long.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import Any

from jobq.worker.execution import Attempt, execute_async
from jobq.worker.outcomes import job_fields
from jobq.worker.pools.base import PoolSetup, deliver
from jobq.worker.pools.thread import ThreadPool

SYNC_THREADS = 32  # the most threads for plain functions, however large the pool
WATCH_INTERVAL = 0.1  # how often the watchdog probes the loop
BLOCKED_AFTER = 1.0  # a probe that waited this long means something blocks the loop
BLOCKED_REPEAT = 5.0  # while it stays blocked, say so again this often


def _is_coroutine(attempt: Attempt) -> bool:
    return attempt.task is not None and attempt.task.is_async


class AsyncPool:
    """Coroutine tasks on one event loop (at most ``size`` at once), plain functions on
    up to ``SYNC_THREADS`` threads."""

    abandons = "its coroutine or thread is abandoned"

    def __init__(self, setup: PoolSetup) -> None:
        self.size = setup.size
        self._setup = setup
        self._log = setup.log
        self._sync = ThreadPool(replace(setup, size=min(setup.size, SYNC_THREADS),
                                        name=f"{setup.name}-sync"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Only the loop's thread touches these three.
        self._free = setup.size
        self._queued: deque[Attempt] = deque()
        self._holding: set[Attempt] = set()
        # Written on the loop's thread; the watchdog reads it to name a blocking job.
        self._tasks: dict[asyncio.Task[None], Attempt] = {}
        self._stop = threading.Event()
        self._probe_seen = False
        self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                          name=f"{setup.name}-watchdog")

    def start(self) -> None:
        self._sync.start()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"{self._setup.name}-loop")
        self._thread.start()
        self._watchdog.start()

    def _on_loop(self, callback: Any, *args: Any) -> None:
        assert self._loop is not None, "the pool was not started"
        # A closed loop raises RuntimeError: the pool is shut down, nothing is left to run.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    # -- the worker loop's side --------------------------------------------------------

    def submit(self, attempt: Attempt) -> None:
        if not _is_coroutine(attempt):
            self._sync.submit(attempt)
            return
        # Its Timeout is raised inside it at the limit; it is abandoned if it still runs
        # kill_after later (it blocked the loop, or swallowed the Timeout).
        attempt.margin = self._setup.options.kill_after
        self._on_loop(self._enqueue, attempt)

    def abandon(self, attempt: Attempt, *, running: bool = True) -> bool:
        if not _is_coroutine(attempt):
            return self._sync.abandon(attempt, running=running)
        started = attempt.give_up(running=running)
        if started is None:
            return False
        if started:
            self._on_loop(self._drop, attempt)
        return True

    def shutdown(self) -> None:
        self._stop.set()  # the watchdog has a last look, then ends
        self._sync.shutdown()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError, FutureTimeout):
            asyncio.run_coroutine_threadsafe(self._cancel_all(), loop).result(5.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():  # else a coroutine blocks it still: leave it, a daemon
            loop.close()
        self._watchdog.join(1.0)

    # -- on the loop -------------------------------------------------------------------

    def _enqueue(self, attempt: Attempt) -> None:
        self._queued.append(attempt)
        self._pump()

    def _pump(self) -> None:
        assert self._loop is not None
        while self._free > 0 and self._queued:
            attempt = self._queued.popleft()
            with attempt.lock:
                if attempt.abandoned:
                    continue
                attempt.started = time.monotonic()
            self._free -= 1
            self._holding.add(attempt)
            task = self._loop.create_task(self._run(attempt))
            self._tasks[task] = attempt
            task.add_done_callback(self._tasks.pop)

    async def _run(self, attempt: Attempt) -> None:
        assert attempt.task is not None
        try:
            outcome = await execute_async(attempt.claimed, attempt.task, attempt.running)
        finally:
            self._release(attempt)
        deliver(self._setup, attempt, outcome)

    def _release(self, attempt: Attempt) -> None:
        if attempt in self._holding:
            self._holding.discard(attempt)
            self._free += 1
            self._pump()

    def _drop(self, attempt: Attempt) -> None:
        """Cancel an abandoned coroutine and give its slot to the next one at once, even
        if it ignores the cancel."""
        for task, held in list(self._tasks.items()):
            if held is attempt:
                task.cancel()
        self._release(attempt)

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            job = self._tasks[task].claimed
            self._log.warning("job %s (%s): its coroutine ignores being cancelled; it is dropped "
                              "with the event loop", job.id, job.task,
                              extra=job_fields(job, "dropped"))
            task._log_destroy_pending = False  # type: ignore[attr-defined]  # said above

    # -- the watchdog (its own thread) ---------------------------------------------------

    def _probe(self) -> None:
        self._probe_seen = True

    def _watch(self) -> None:
        """Post a probe to the loop and see how long it waits to run."""
        posted: float | None = None
        blocker: Attempt | None = None
        blocked = False
        next_report = 0.0
        while True:
            stopping = self._stop.wait(WATCH_INTERVAL)
            now = time.monotonic()
            if posted is None or self._probe_seen:
                if blocked and posted is not None:
                    self._report_unblocked(blocker, now - posted)
                blocked, blocker = False, None
                self._probe_seen, posted = False, now
                self._on_loop(self._probe)
            elif now - posted >= BLOCKED_AFTER and now >= next_report:
                blocked = True
                blocker = self._blocking_job()
                self._report_blocked(blocker, now - posted)
                next_report = now + BLOCKED_REPEAT
            if stopping:
                return

    def _blocking_job(self) -> Attempt | None:
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        return self._tasks.get(task) if task is not None else None

    def _report_unblocked(self, attempt: Attempt | None, seconds: float) -> None:
        name = "something that is not a job" if attempt is None else (
            f"job {attempt.claimed.id} ({attempt.claimed.task})")
        self._log.warning("%s let the async pool's event loop run again after %.1fs", name, seconds,
                          extra={"action": "loop_unblocked"})

    def _report_blocked(self, attempt: Attempt | None, seconds: float) -> None:
        if attempt is None:
            self._log.warning("something that is not a job has blocked the async pool's event loop "
                              "for %.1fs", seconds, extra={"action": "loop_blocked"})
            return
        job = attempt.claimed
        self._log.warning(
            "job %s (%s) has blocked the async pool's event loop for %.1fs: no other "
            "coroutine runs until it awaits (its lease is kept); run blocking calls with "
            "asyncio.to_thread(), or make it a plain def task", job.id, job.task, seconds,
            extra=job_fields(job, "loop_blocked"),
        )
