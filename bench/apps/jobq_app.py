"""jobq on whichever store BENCH_STORE_URL names (SQLite file, PostgreSQL or Redis)."""

from __future__ import annotations

import os

import jobq
from bench.apps import probe

app = jobq.App(
    os.environ["BENCH_STORE_URL"],
    schema=os.environ.get("BENCH_JOBQ_SCHEMA", "jobq_bench"),
    prefix=os.environ.get("BENCH_JOBQ_PREFIX", "jobqbench:"),
)


@app.task(name="noop")
def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    probe.run(t_enq, sleep_ms)


if __name__ == "__main__":
    # Used only while this jobq has no `jobq worker` command: the same worker, by its API.
    import sys

    app.run_worker(concurrency=int(sys.argv[1]), queues=["default"])
