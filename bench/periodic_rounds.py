"""The wall time of one round of the periodic tick loop on each store: idle (no periodic
task anywhere: one state read, every 5 s in each worker) and leading (a state read, a
renewal when due, one tick fired: once a second for an ``every=1`` task).

    .venv/bin/python -m bench.periodic_rounds     # from a checkout; PostgreSQL and Redis up

Each store is a throwaway one (tests/isolation.py), dropped afterwards.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jobq
from jobq.worker.leader import PeriodicLoop, holder_id
from tests import isolation
from tests.periodic.support import ManualClock

ROUNDS = 300


def _median_ms(round_: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        round_()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(kind: str) -> str:
    store = isolation.open_store(kind, Path(tempfile.mkdtemp()))
    idle_app = jobq.App(store.url, **store.options)
    app = jobq.App(store.url, **store.options)
    try:
        idle = PeriodicLoop(idle_app.backend, [], holder_id("idle"), 30.0)
        idle.step()
        idle_ms = _median_ms(idle.step)

        app.periodic(every=1, name="tick", queue="ticks")(lambda: None)
        clock = ManualClock(time.time() - 2 * ROUNDS)  # simulated seconds, all in the past
        leader = PeriodicLoop(app.backend, list(app.periodic_tasks.values()),
                              holder_id("leader"), 30.0, clock)
        leader.step()

        def one_tick() -> None:
            clock.t += 1.0
            leader.step()

        leader_ms = _median_ms(one_tick)
        fired = len(app.jobs(task="tick", limit=10 * ROUNDS))
        leader.resign()
    finally:
        app.close()
        idle_app.close()
        store.drop()
    return (f"{kind}: idle round {idle_ms:.2f} ms, leader round firing one tick "
            f"{leader_ms:.2f} ms (medians of {ROUNDS}; {fired} ticks fired)")


def main() -> None:
    for kind in ("sqlite", "postgres", "redis"):
        print(measure(kind))


if __name__ == "__main__":
    main()
