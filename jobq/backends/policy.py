"""What every store decides alike, written once: which schema versions it refuses and
what it says, how a forked child tells its parent's connections from its own, how counts
fold into ``stats()``, how purge goes in batches, the order the reaper reports expired
leases in, and retention."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from jobq.errors import SchemaError
from jobq.job import RETAINED_FOR_A_WHILE, Status

if TYPE_CHECKING:
    from jobq.backends.base import Backend, ReapedJob

# Jobs per purge batch: each is a short transaction (or script) of its own, so a purge of
# millions never holds the store for long.
PURGE_BATCH = 500

# Expired leases are decided in this order: a job its worker was asked to cancel is
# cancelled (it must not run again), then the others go back to pending, or fail once
# they have lost too many leases.
REAP_ORDER: tuple[Status, ...] = (Status.CANCELLED, Status.PENDING, Status.FAILED)


def schema_refusal(where: str, version: int, known: int, upgrade: str) -> SchemaError | None:
    """Why a store at schema ``version`` cannot be used by this jobq, which knows
    ``known``; None when it can. ``where`` names the store, ``upgrade`` says how to bring
    an older one up to date (``run `jobq migrate` ...``)."""
    if version == known:
        return None
    if version > known:
        return SchemaError(
            f"{where} is at jobq schema version {version}, newer than this jobq knows "
            f"({known}): upgrade jobq to the release whose `jobq migrate` wrote it "
            "(migrations never go backwards)"
        )
    return SchemaError(f"{where} is at jobq schema version {version}, this jobq needs "
                       f"{known}; {upgrade}")


class ProcessBound:
    """The process some state belongs to (a connection, a listening thread, a schema
    found at the right version). A forked child inherits the state but must not use it:
    its sockets and threads are the parent's. ``mine()`` tells, ``bind()`` takes it over
    for this process, ``unbind()`` makes every process (this one too) start afresh.

    (SQLite's store also drops its connection in a fork hook, as it must replace a lock
    the parent's threads may hold: see ``jobq/backends/sqlite/access.py``.)"""

    __slots__ = ("_pid",)

    def __init__(self, bound: bool = False) -> None:
        self._pid = os.getpid() if bound else 0

    def mine(self) -> bool:
        return self._pid == os.getpid()

    def bind(self) -> None:
        self._pid = os.getpid()

    def unbind(self) -> None:
        self._pid = 0


def fold_stats(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """``(queue, status, count)`` rows as ``stats()`` returns them:
    ``{queue: {status: count}}``, without the statuses a queue has none of."""
    out: dict[str, dict[str, int]] = {}
    for queue, status, count in rows:
        if count > 0:
            out.setdefault(queue, {})[status] = count
    return out


def purge_in_batches(statuses: Iterable[Status | str],
                     delete_batch: Callable[[list[str]], tuple[int, bool]]) -> int:
    """Delete in batches until done; the number deleted. ``delete_batch(statuses)``
    deletes one batch of finished jobs of those statuses (their values) and returns how
    many it deleted and whether there may be more."""
    wanted = sorted({Status(s).value for s in statuses})
    if not wanted:
        return 0
    total = 0
    while True:
        deleted, more = delete_batch(wanted)
        total += deleted
        if not more:
            return total


def in_reap_order(reaped: Sequence[ReapedJob]) -> list[ReapedJob]:
    """``reaped`` in ``REAP_ORDER`` of their new status (stable: expiry order within)."""
    return sorted(reaped, key=lambda job: REAP_ORDER.index(job.status))


def apply_retention(backend: Backend, retention: float, now: float) -> int:
    """Delete what the retention setting covers (succeeded and cancelled jobs, and the
    throughput history) older than ``retention`` seconds; the number of jobs deleted.
    Every store's retention is this call, made by each worker about once a minute. (Redis
    also gives finished jobs a TTL; this drops what the TTL left in its indexes.)"""
    backend.prune_throughput(int(now - retention) // 60 * 60)
    return backend.purge(retention, RETAINED_FOR_A_WHILE)
