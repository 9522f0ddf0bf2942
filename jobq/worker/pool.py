"""Pools run attempts. The worker loop needs only: submit, abandon, shutdown.

``ThreadPool`` keeps ``size`` threads busy. A thread whose attempt the loop abandoned
(time limit passed, lease lost) cannot be killed in Python; it is replaced at once so
the pool keeps its size, and it exits when its task finally returns, its late result
discarded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from jobq.worker.execution import Attempt, run_attempt

log = logging.getLogger("jobq.worker")

_STOP = None


class ThreadPool:
    def __init__(self, size: int, on_done: Callable[[Attempt], None], name: str = "jobq") -> None:
        self.size = size
        self._on_done = on_done
        self._name = name
        self._inbox: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._serial = 0
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._serial += 1
            thread = threading.Thread(
                target=self._serve, name=f"{self._name}-{self._serial}", daemon=True
            )
            self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            attempt = self._inbox.get()
            if attempt is _STOP:
                break
            with attempt.lock:
                if attempt.abandoned:  # given up on before it started
                    continue
                attempt.started = time.monotonic()
            run_attempt(attempt)
            with attempt.lock:
                abandoned = attempt.abandoned
            if abandoned:
                # A replacement already took this thread's place.
                log.info("abandoned job %s finished late; its result is discarded",
                         attempt.claimed.id)
                break
            self._on_done(attempt)
        with self._lock:
            self._threads.discard(me)

    def submit(self, attempt: Attempt) -> None:
        self._inbox.put(attempt)

    def abandon(self, attempt: Attempt) -> bool:
        """Give up on a running attempt; return False if it had already finished."""
        with attempt.lock:
            if attempt.finished or attempt.abandoned:
                return False
            attempt.abandoned = True
            started = bool(attempt.started)
        if started:
            self._spawn()
        return True

    def shutdown(self) -> None:
        """Ask idle threads to exit; busy ones exit after their attempt (they are daemons)."""
        with self._lock:
            count = len(self._threads)
        for _ in range(count):
            self._inbox.put(_STOP)
