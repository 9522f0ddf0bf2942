"""Waking idle workers: a thread blocks on the queues' wake streams and sets events.

Every script that makes a job ready appends to ``<prefix>wake:<queue>`` (a stream capped
at about 100 entries). A stream, not a list, because every idle worker must hear it, not
just the first to pop. The listener blocks in XREAD on its own connection, so the
worker's thread can wait on a plain ``threading.Event`` that either the listener or the
worker's own ``wake`` sets: both wake it within a millisecond, and nothing polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from jobq.backends.policy import ProcessBound
from jobq.backends.redis.conn import TRANSIENT, Connections, execute, pipeline
from jobq.backends.waiters import Waiters

log = logging.getLogger("jobq.redis")

BLOCK_MS = 1000  # each XREAD returns at least this often, to notice close()
READ_COUNT = 128  # more than a wake stream keeps (about 100)


class WakeListener:
    """Listens on the wake streams of ``queues``; ``generation`` counts what it heard."""

    def __init__(self, connections: Connections, prefix: str, queues: Sequence[str]) -> None:
        self.queues = tuple(queues)
        self._owner = ProcessBound(bound=True)
        self._keys = [f"{prefix}wake:{q}" for q in self.queues]
        self._ids: dict[str, str] = {}
        self._conn = connections.new_connection(socket_timeout=BLOCK_MS / 1000 + 10)
        self._waiters = Waiters()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobq-redis-wake", daemon=True)

    @property
    def generation(self) -> int:
        """How many wake-ups the listener has heard."""
        return self._waiters.generation

    @property
    def alive(self) -> bool:
        return self._owner.mine() and self._thread.is_alive()

    def start(self) -> None:
        """Note where each stream ends now (all later entries will be heard), then listen.
        Raises the connection's error if Redis cannot be reached."""
        try:
            self._ids = self._latest(self._keys)
        except BaseException:
            self._conn.disconnect()
            raise
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._notify()

    def wait(self, since: int, timeout: float, event: threading.Event) -> None:
        """Wait until something is heard after ``generation`` was ``since``, ``event`` is
        set by someone else, or ``timeout`` passes."""
        self._waiters.wait(since, timeout, event)

    def _notify(self) -> None:
        self._waiters.signal()

    def _latest(self, keys: Sequence[str]) -> dict[str, str]:
        replies = pipeline(self._conn, [("XREVRANGE", k, "+", "-", "COUNT", 1) for k in keys])
        latest = {}
        for key, reply in zip(keys, replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            latest[key] = reply[0][0] if reply else "0-0"
        return latest

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                heard = execute(self._conn, "XREAD", "COUNT", READ_COUNT, "BLOCK", BLOCK_MS,
                                "STREAMS", *self._keys, *(self._ids[k] for k in self._keys))
                if heard:
                    # Wake first: the round trip is the latency of the job just made ready.
                    self._notify()
                    # Then go on from each stream's last entry read: a stream keeps about
                    # 100, so one read almost always reaches its end; if not, the next
                    # read returns at once and wakes the worker once more, which is cheap.
                    for name, entries in heard:
                        self._ids[name] = entries[-1][0]
                failures = 0
            except TRANSIENT as exc:
                self._conn.disconnect()
                failures += 1
                self._after_failure(failures, exc)
            except Exception as exc:  # e.g. a foreign key of the wrong type at a stream name
                failures += 1
                self._after_failure(failures, exc)
        self._conn.disconnect()

    def _after_failure(self, failures: int, exc: BaseException) -> None:
        if failures == 1:
            log.warning("waiting for work on Redis failed, retrying: %s", exc,
                        extra={"action": "wait_error"})
        # A job may have come while this listener was cut off: let the worker look.
        self._notify()
        self._stop.wait(min(0.05 * 2 ** failures, 1.0))
