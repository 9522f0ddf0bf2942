"""The benchmark's tasks, registered under fixed names.

``app`` is a module-level App with these tasks for the process pool's children, which
import it by reference (``APP_REF``) and take the worker's store settings; a measurement
builds its own App on its own store with ``bench_app``. Making an App connects nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jobq.app import App

NOOP = "jobq.bench.noop"
ASYNC_NOOP = "jobq.bench.async_noop"
STAMP = "jobq.bench.stamp"
SPIN = "jobq.bench.spin"
NAP = "jobq.bench.nap"
TICK = "jobq.bench.tick"  # the periodic task of --periodic, on a queue of its own
RELAY = "jobq.bench.relay"
# Limits: a task limited to one start an hour whose jobs wait in a queue of their own
# (limits defined elsewhere), and a no-op under limits no drain reaches (every claim still
# decides on each job).
HELD = "jobq.bench.held"
GENEROUS = "jobq.bench.generous"
APP_REF = "jobq.benchmark.tasks:app"


def noop() -> None:
    """The benchmark's job: nothing at all, so the figures measure jobq itself."""


async def async_noop() -> None:
    """Nothing, as a coroutine: the async pool's own cost."""


def stamp() -> float:
    """Return the moment the job started, for the enqueue-to-start latency."""
    return time.time()


def spin(seconds: float) -> None:
    """Pure-Python CPU work for ``seconds`` of the running thread's CPU time: threads
    that share the GIL each take longer to get through it, processes do not."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        for _ in range(10_000):
            pass


async def nap(seconds: float) -> None:
    """I/O-bound work: a coroutine that waits."""
    await asyncio.sleep(seconds)


def relay(*results: Any) -> None:
    """A no-op that takes what a workflow passes it (a result, a chord's list)."""


def bench_app(url: str, options: dict[str, Any], periodic: bool = False) -> App:
    """An App on ``url`` with the benchmark tasks registered under fixed names, and
    with ``periodic`` a task its workers fire every second onto a queue of its own."""
    app = App(url, **options)
    for name, fn in ((NOOP, noop), (ASYNC_NOOP, async_noop), (STAMP, stamp), (SPIN, spin),
                     (NAP, nap), (RELAY, relay)):
        app.task(name=name)(fn)
    app.task(name=HELD, rate_limit="1/h", queue=HELD)(noop)
    app.task(name=GENEROUS, rate_limit="100000/s", rate_burst=1_000,
             concurrency_limit=100_000)(noop)
    if periodic:
        app.periodic(every=1, name=TICK, queue=TICK)(noop)
    return app


app = bench_app("sqlite:///jobq-bench-never-opened.db", {})
