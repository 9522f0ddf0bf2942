"""Contract: the per-minute throughput history (succeeded, failed, retried per queue),
added by workers off the finish path, kept through purge, folded into totals by
retention."""

from __future__ import annotations

import time
from typing import Any

import jobq
from jobq.backends.base import Throughput


def test_workers_add_up_and_purge_keeps_the_history(app: jobq.App) -> None:
    @app.task(name="flaky", retries=1)
    def flaky(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    for n in (1, 2, 3, -1):
        flaky.enqueue(n)
    flaky.with_options(queue="mail").enqueue(5)
    minute = int(time.time()) // 60 * 60
    app.run_worker(concurrency=2, burst=True, queues=["default", "mail"])
    rows = app.backend.throughput(minute - 60)
    assert sum_by_queue(rows) == {"default": (3, 1, 1), "mail": (1, 0, 0)}
    assert app.purge(statuses=["succeeded", "failed"]) == 5
    assert sum_by_queue(app.backend.throughput(0)) == {"default": (3, 1, 1), "mail": (1, 0, 0)}


def test_two_workers_rows_add_and_pruned_minutes_become_totals(app: jobq.App) -> None:
    backend = app.backend
    backend.add_throughput("w1", [Throughput(600, "q", 1, 2, 3), Throughput(660, "q", 1)])
    backend.add_throughput("w2", [Throughput(600, "q", 10, 0, 0)])
    backend.add_throughput("w1", [Throughput(600, "q", 1, 0, 0)])
    assert backend.throughput(600) == [Throughput(600, "q", 12, 2, 3),
                                       Throughput(660, "q", 1, 0, 0)]
    backend.prune_throughput(660)
    assert backend.throughput(600) == [Throughput(660, "q", 1, 0, 0)]
    assert backend.throughput(0) == [Throughput(0, "q", 12, 2, 3), Throughput(660, "q", 1, 0, 0)]
    backend.prune_throughput(720)
    assert backend.throughput(0) == [Throughput(0, "q", 13, 2, 3)]


def sum_by_queue(rows: list[Throughput]) -> dict[str, Any]:
    out: dict[str, tuple[int, int, int]] = {}
    for row in rows:
        s, f, r = out.get(row.queue, (0, 0, 0))
        out[row.queue] = (s + row.succeeded, f + row.failed, r + row.retried)
    return out
