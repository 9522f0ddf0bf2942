"""procrastinate on PostgreSQL (psycopg 3 connector, LISTEN/NOTIFY: its defaults)."""

from __future__ import annotations

import os

import procrastinate

from bench.apps import probe

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_STORE_URL"])
)


@app.task(name="noop", queue="default")
async def noop(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    await probe.run_async(t_enq, sleep_ms)
