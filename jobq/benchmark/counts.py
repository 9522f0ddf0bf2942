"""``jobq bench --stats``: what ``app.stats()`` costs with few and with many finished jobs
stored. The counts come from maintained counters and the live states' indexes, so the two
figures should be about equal however many finished jobs pile up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

from jobq.app import App
from jobq.backends.base import Outcome
from jobq.benchmark.runs import BATCH, Store, Stores, fill, round_trips
from jobq.benchmark.tasks import NOOP, bench_app
from jobq.job import Status

LIVE_JOBS = 100  # pending and as many running jobs beside the finished ones
CALLS = 30  # stats() calls timed per figure (the median is kept)


def finish_jobs(app: App, jobs: int, progress: Callable[[int], None]) -> None:
    """Store ``jobs`` succeeded jobs: enqueued, then claimed and finished through the
    store's own calls (no task runs, so a million take seconds, not a drain)."""
    done = 0
    while done < jobs:
        size = min(BATCH, jobs - done)
        fill(app, size)
        while claimed := app.backend.claim("bench", ["default"], BATCH, 3600.0):
            app.backend.finish([Outcome(c.id, c.token, Status.SUCCEEDED, result="null")
                                for c in claimed])
        done += size
        progress(done)


def settle(app: App, store: Store) -> None:
    """Leave the store as running workers and autovacuum do: one reap (every worker's
    reaper runs every few seconds; on PostgreSQL it folds the finished counts' changes),
    and on PostgreSQL a vacuum of the jobs table and of the folded count changes. Right
    after a million finishes the indexes of live jobs still hold an entry for every row
    that passed through them, and the changes table a dead row per finish, which any read
    of them (a claim too) steps over until a vacuum."""
    app.backend.reap()
    schema = store.options.get("schema")
    if schema:
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute(f'VACUUM ANALYZE "{schema}".jobq_jobs, "{schema}".jobq_count_changes')


def time_stats(app: App) -> float:
    """Median seconds of one ``app.stats()`` call (after one untimed call)."""
    app.stats()
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        app.stats()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class StatsCost(NamedTuple):
    """Milliseconds per ``app.stats()``, and per round trip to the server at the same
    moment (None on SQLite), which stats() cannot cost less than."""

    stats: float
    round_trip: float | None


def round_trip(store: Store) -> float | None:
    if not store.options:
        return None
    return 1000 / round_trips(store.url, CALLS * 10)


def stats_costs(stores: Stores, small: int, big: int,
                step: Callable[[str, int], Callable[[int], None]]) -> tuple[StatsCost, StatsCost]:
    """``app.stats()`` with ``small``, then ``big``, finished jobs stored (one store,
    topped up), beside ``LIVE_JOBS`` pending and running ones."""
    with stores.fresh() as store:
        app = bench_app(store.url, store.options)
        try:
            app.migrate()
            live = app.get_task(NOOP).with_options(queue="live")
            app.enqueue_many([live.call() for _ in range(2 * LIVE_JOBS)])
            app.backend.claim("bench-hold", ["live"], LIVE_JOBS, 3600.0)
            finish_jobs(app, small, step(f"stats: store {small:,} finished jobs", small))
            settle(app, store)
            few = StatsCost(time_stats(app) * 1000, round_trip(store))
            finish_jobs(app, big - small, step(f"stats: top up to {big:,}", big - small))
            settle(app, store)
            many = StatsCost(time_stats(app) * 1000, round_trip(store))
            counts = app.stats()["default"]
            if counts.get("succeeded") != big:
                raise RuntimeError(f"expected {big} succeeded jobs, the store counts {counts}")
        finally:
            app.close()
    return few, many
