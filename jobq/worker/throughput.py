"""A worker's counts of finished attempts, per minute and queue, kept in memory and added
to the store's history every few seconds by a side loop (never on the finish path)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from jobq.backends.base import Backend, ClaimedJob, Outcome, Throughput
from jobq.job import Status
from jobq.worker.hooks import Hook

FLUSH_EVERY = 5.0  # seconds between a worker's additions to the history

# The outcome a finish counts as; others (cancelled, handed back) are not throughput.
_OUTCOMES = {Status.SUCCEEDED: "succeeded", Status.FAILED: "failed",
             Status.SCHEDULED: "retried"}


class ThroughputTally(Hook):
    """Counts applied outcomes (a hook, as any other); ``flush`` hands them to the store,
    keeping them if the store does not answer (the next flush tries again)."""

    def __init__(self, backend: Backend, worker_id: str) -> None:
        self._backend = backend
        self._worker_id = worker_id
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, str, str]] = Counter()

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool,
                   duration: float | None) -> None:
        if applied:
            self.count(job.queue, outcome.status)

    def count(self, queue: str, status: Status) -> None:
        outcome = _OUTCOMES.get(status)
        if outcome is not None:
            minute = int(time.time()) // 60 * 60
            with self._lock:
                self._counts[minute, queue, outcome] += 1

    def flush(self) -> None:
        with self._lock:
            taken, self._counts = self._counts, Counter()
        if not taken:
            return
        rows: dict[tuple[int, str], Counter[str]] = {}
        for (minute, queue, outcome), n in taken.items():
            rows.setdefault((minute, queue), Counter())[outcome] += n
        try:
            self._backend.add_throughput(self._worker_id, [
                Throughput(minute, queue, c["succeeded"], c["failed"], c["retried"])
                for (minute, queue), c in sorted(rows.items())])
        except BaseException:
            with self._lock:
                self._counts.update(taken)
            raise
