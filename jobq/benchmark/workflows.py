"""Workflow figures for ``jobq bench``: a chord of many no-op jobs and many short
chains, each measured beside the same number of plain no-op jobs, in the same run on the
same kind of store and worker, so the ratio is the workflow's own cost.

- chord: one ``chord(group(N jobs), callback)`` enqueued in one call, then drained until
  the callback ran; beside it, N + 1 plain jobs in one ``enqueue_many`` call, drained.
- chains: N ``chain(a, b, c)`` enqueued one chain per call, then drained; beside them,
  3N plain jobs enqueued three per ``enqueue_many`` call, drained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jobq.app import App
from jobq.benchmark.runs import (
    Progress,
    Store,
    Stores,
    _expect,
    _wait_succeeded,
    worker_processes,
)
from jobq.benchmark.tasks import RELAY, bench_app
from jobq.errors import JobqError
from jobq.workflow import chain, chord, group

CHAIN = 3  # jobs per chain


@dataclass(frozen=True)
class Rates:
    enqueue: float  # jobs/s
    drain: float  # jobs/s


def _run(stores: Stores, jobs: int, concurrency: int, progress: Progress,
         enqueue: Callable[[App], None], check: Callable[[App], None]) -> Rates:
    """Enqueue ``jobs`` jobs with ``enqueue`` on a fresh store (timed), then drain them
    with one burst worker process (timed, until all succeeded) and ``check`` the end."""
    with stores.fresh() as store:
        app = _app(store)
        try:
            start = time.perf_counter()
            enqueue(app)
            enqueued = time.perf_counter() - start
            with worker_processes(store, 1, concurrency, True) as started:
                start = time.perf_counter()
                started.go()
                drained = _wait_succeeded(app, jobs, started.procs, start, progress)
            _expect(app, jobs, "succeeded")
            check(app)
        finally:
            app.close()
    return Rates(jobs / enqueued, jobs / drained)


def _app(store: Store) -> App:
    app = bench_app(store.url, store.options)
    app.migrate()
    app.backend.check_schema()  # connect now, not inside the timed part
    return app


def _nothing(app: App) -> None:
    pass


def chord_figures(stores: Stores, size: int, concurrency: int,
                  progress: Callable[[str, int], Progress]) -> tuple[Rates, Rates]:
    """(the chord, plain jobs beside it): a chord of ``size`` members and its callback."""
    callbacks: list[str] = []

    def workflow(app: App) -> None:
        relay = app.get_task(RELAY)
        handle = chord(group(relay.call() for _ in range(size)), relay.call()).enqueue()
        callbacks.append(handle.jobs[-1].id)

    def called_back(app: App) -> None:
        job = app.get_job(callbacks[-1])
        if job is None or len(job.record.args[0]) != size:
            raise JobqError(f"the chord's callback did not get {size} results")

    def plain(app: App) -> None:
        relay = app.get_task(RELAY)
        app.enqueue_many([relay.call() for _ in range(size + 1)])

    jobs = size + 1
    return (_run(stores, jobs, concurrency, progress("chord", jobs), workflow, called_back),
            _run(stores, jobs, concurrency, progress("beside it: plain", jobs), plain,
                 _nothing))


def chain_figures(stores: Stores, count: int, concurrency: int,
                  progress: Callable[[str, int], Progress]) -> tuple[Rates, Rates]:
    """(the chains, plain jobs beside them): ``count`` chains of three jobs."""

    def workflows(app: App) -> None:
        relay = app.get_task(RELAY)
        for _ in range(count):
            chain(*(relay.call() for _ in range(CHAIN))).enqueue()

    def plain(app: App) -> None:
        relay = app.get_task(RELAY)
        for _ in range(count):
            app.enqueue_many([relay.call() for _ in range(CHAIN)])

    jobs = count * CHAIN
    return (_run(stores, jobs, concurrency, progress("chains", jobs), workflows, _nothing),
            _run(stores, jobs, concurrency, progress("beside them: plain", jobs), plain,
                 _nothing))
