"""What a worker knows about the leases it holds, on its own monotonic clock.

A lease is trusted until the time it was last granted or renewed (when the claim or
heartbeat was *sent*: the store's own expiry is later still) plus the lease, less a
margin. A worker whose heartbeats no longer reach the store then gives its jobs up
before the store can hand them to another worker, instead of running on as if it held
them. It also notes which of its jobs lost a lease before: it holds one such at a time,
so a job that kills its worker cannot take the same neighbours down twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from jobq.backends.base import ClaimedJob

# The share of the lease a worker gives itself to stop trusting it before it runs out.
TRUST_MARGIN = 0.1


class Leases:
    def __init__(self, lease: float) -> None:
        self.lease = lease
        self._trusted_for = lease * (1 - TRUST_MARGIN)
        self._until: dict[str, float] = {}
        self._suspects: set[str] = set()
        self._lock = threading.Lock()

    def claimed(self, jobs: Sequence[ClaimedJob], sent_at: float) -> None:
        """Jobs leased by a claim sent at ``sent_at`` (monotonic)."""
        until = sent_at + self._trusted_for
        with self._lock:
            for job in jobs:
                self._until[job.id] = until
                if job.lost_leases:
                    self._suspects.add(job.id)

    def renewed(self, job_ids: Iterable[str], sent_at: float) -> None:
        """Leases a heartbeat sent at ``sent_at`` renewed."""
        until = sent_at + self._trusted_for
        with self._lock:
            for job_id in job_ids:
                if self._until.get(job_id, until) < until:
                    self._until[job_id] = until

    def release(self, job_id: str) -> None:
        """The worker no longer holds this job."""
        with self._lock:
            self._until.pop(job_id, None)
            self._suspects.discard(job_id)

    def overdue(self, now: float) -> list[str]:
        """Jobs whose lease is no longer to be trusted at ``now``; each is named once."""
        with self._lock:
            gone = [job_id for job_id, until in self._until.items() if until <= now]
            for job_id in gone:
                del self._until[job_id]
        return gone

    def suspects_allowed(self) -> int:
        """How many jobs that lost a lease before the next claim may take: one, unless
        the worker holds one already."""
        return 0 if self._suspects else 1
