"""Threads waiting for work, woken by a store's listener thread (LISTEN, XREAD)."""

from __future__ import annotations

import threading


class Waiters:
    """``generation`` counts the wake-ups a listener has signalled.

    ``wait(since, …)`` returns at once if a wake-up came after ``since``; otherwise it
    blocks on the caller's own event until the next wake-up sets it, someone else sets
    it (the worker's ``wake``), or the timeout passes.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._lock = threading.Lock()
        self._events: set[threading.Event] = set()

    def signal(self) -> None:
        with self._lock:
            self.generation += 1
            for event in self._events:
                event.set()

    def wait(self, since: int, timeout: float, event: threading.Event) -> None:
        with self._lock:
            if self.generation != since:
                return
            self._events.add(event)
        try:
            event.wait(timeout)
        finally:
            with self._lock:
                self._events.discard(event)
