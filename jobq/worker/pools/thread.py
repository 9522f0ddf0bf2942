"""The thread pool: ``size`` threads running submitted attempts.

A thread whose attempt the loop abandoned (time limit passed, lease lost) cannot be
killed in Python; it is replaced at once so the pool keeps its size, and it exits when
its task finally returns, its late result discarded.
"""

from __future__ import annotations

import queue
import threading
import time

from jobq.worker.execution import Attempt, close_thread_loop, outcome_of
from jobq.worker.pools.base import PoolSetup, deliver

_STOP = None
# A coroutine's thread is abandoned this long after its Timeout was raised inside it.
ASYNC_MARGIN = 1.0


class ThreadPool:
    """``size`` threads running submitted attempts; ``on_done`` hears of each one that
    finished and was not abandoned."""

    abandons = "its thread is abandoned"

    def __init__(self, setup: PoolSetup) -> None:
        self.size = setup.size
        self._setup = setup
        self._name = setup.name
        self._inbox: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._serial = 0
        self._closing = False

    def start(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._serial += 1
            thread = threading.Thread(
                target=self._serve, name=f"{self._name}-{self._serial}", daemon=True
            )
            self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        try:
            while (attempt := self._inbox.get()) is not None:  # None: _STOP
                with attempt.lock:
                    if attempt.abandoned:  # given up on before it started
                        continue
                    attempt.started = time.monotonic()
                if not deliver(self._setup, attempt, outcome_of(attempt)):
                    break  # abandoned meanwhile: a replacement took this thread's place
        finally:
            close_thread_loop()
            with self._lock:
                self._threads.discard(me)

    def submit(self, attempt: Attempt) -> None:
        # A coroutine gets its Timeout raised inside it at the limit; its thread is
        # abandoned only if it still runs a moment later (it blocked its event loop, or
        # swallowed the Timeout and carried on). A plain function cannot be interrupted.
        if attempt.task is not None and attempt.task.is_async:
            attempt.margin = ASYNC_MARGIN
        self._inbox.put(attempt)

    def abandon(self, attempt: Attempt, *, running: bool = True) -> bool:
        """Give up on an attempt that has not finished; True if it was given up.

        A started one keeps its thread, which a new thread replaces.
        """
        started = attempt.give_up(running=running)
        if started is None:
            return False
        if started:
            self._spawn()
        return True

    def shutdown(self) -> None:
        """Ask idle threads to exit; busy ones exit after their attempt (they are daemons)."""
        with self._lock:
            self._closing = True
            count = len(self._threads)
        for _ in range(count):
            self._inbox.put(_STOP)
