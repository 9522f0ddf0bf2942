"""What the Redis store keeps about its workers: the registry, their throughput history,
and the periodic tasks' leader and ticks (``periodic.py`` builds their script calls)."""

from __future__ import annotations

from collections.abc import Sequence

from jobq.backends.base import (
    FORGET_WORKER_AFTER,
    Lease,
    NewJob,
    PeriodicDefinition,
    PeriodicState,
    Throughput,
    TickVerdict,
    WorkerInfo,
)
from jobq.backends.redis import periodic
from jobq.backends.redis.access import RedisAccess, num
from jobq.backends.redis.conn import same_args
from jobq.backends.redis.records import throughput_rows, worker_json, worker_of


class RedisFleet(RedisAccess):
    # -- the worker registry -----------------------------------------------------------

    def register_worker(self, worker: WorkerInfo) -> None:
        self._script("register_worker", same_args(
            (self.prefix, worker.id, worker_json(worker), num(FORGET_WORKER_AFTER))))

    def unregister_worker(self, worker_id: str) -> None:
        self._script("unregister_worker", same_args((self.prefix, worker_id)))

    def workers(self, stale_after: float) -> list[WorkerInfo]:
        flat = self._script("workers", same_args((self.prefix, num(stale_after))))
        found = (worker_of(flat[i], flat[i + 1], float(flat[i + 2]))
                 for i in range(0, len(flat), 3))
        return sorted((w for w in found if w is not None), key=lambda w: (w.started_at, w.id))

    # -- throughput history ------------------------------------------------------------

    def add_throughput(self, worker_id: str, counts: Sequence[Throughput]) -> None:
        # Redis adds on its own side (HINCRBY): no lock, so no per-worker keys either.
        args = [str(v) for c in counts for v in c]
        if args:
            self._script("add_throughput", same_args((self.prefix, *args)))

    def throughput(self, since: int) -> list[Throughput]:
        flat = self._script("throughput", same_args((self.prefix, str(since))))
        return throughput_rows(flat)

    def prune_throughput(self, before: int) -> None:
        self._script("prune_throughput", same_args((self.prefix, str(before))))

    # -- periodic tasks (jobq/backends/redis/periodic.py) ------------------------------

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        args = periodic.lead_args(self.prefix, holder, term, ttl)
        return periodic.lease_of(self._script("lead", same_args(args)))

    def resign(self, holder: str, term: int) -> None:
        self._script("resign", same_args((self.prefix, holder, str(term))))

    def register_periodic(self, definitions: Sequence[PeriodicDefinition], now: float,
                          forget_before: float) -> None:
        args = periodic.register_args(self.prefix, definitions, now, forget_before)
        self._script("register_periodic", same_args(args))

    def periodic_state(self) -> PeriodicState:
        return periodic.state_of(self._script("periodic_state", same_args((self.prefix,))))

    def fire_tick(self, holder: str, term: int, name: str, tick: int,
                  job: NewJob) -> TickVerdict:
        args = periodic.fire_args(self.prefix, holder, term, name, tick, job)
        return periodic.verdict_of(self._script("fire_tick", same_args(args)))
