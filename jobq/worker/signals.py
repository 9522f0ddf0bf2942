"""SIGTERM/SIGINT: the first asks for a graceful stop, the second for an immediate one.

A Python signal handler runs in the main thread between two bytecodes, possibly while
that thread holds a lock the stop logic needs (an ``Event``'s, the logging module's).
So the handler only puts the signal number on a ``SimpleQueue`` (its ``put`` is safe in
a signal handler) and a relay thread does the real work.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Route SIGTERM and SIGINT to ``on_signal`` while inside; only in the main thread.

    ``on_signal`` runs on a relay thread, never inside the signal handler itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    inbox: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def relay() -> None:
        while (signum := inbox.get()) is not None:
            on_signal(signum)

    def handler(signum: int, frame: FrameType | None) -> None:
        inbox.put(signum)

    relay_thread = threading.Thread(target=relay, name="jobq-signals", daemon=True)
    relay_thread.start()
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        inbox.put(None)
        relay_thread.join(5.0)
