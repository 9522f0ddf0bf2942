"""procrastinate: PostgreSQL, `procrastinate worker --concurrency N`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.systems.base import POSTGRES_URL, Adapter, ensure_database

DATABASE = "bench_procrastinate"


class ProcrastinateAdapter(Adapter):
    name = venv = "procrastinate"
    label = "procrastinate"
    requirements = ("procrastinate", "psycopg[binary]", "redis")
    packages = ("procrastinate", "psycopg", "redis")
    store = "postgres"
    has_bulk = True
    bulk_api = "task.batch_defer_async"
    config = ("PostgreSQL (database `bench_procrastinate`), psycopg connector, LISTEN/NOTIFY, "
              "`procrastinate worker --concurrency N`, finished jobs kept (its default). "
              "Async task.")

    def store_url(self, work: Path) -> str:
        return f"{POSTGRES_URL}/{DATABASE}"

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        return [str(bin_dir / "procrastinate"), "--app", "bench.apps.procrastinate_app.app",
                "worker", "--concurrency", str(concurrency)], {}

    def setup(self) -> None:
        import psycopg
        from procrastinate.schema import SchemaManager

        ensure_database(DATABASE)
        with psycopg.connect(os.environ["BENCH_STORE_URL"], autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
            conn.execute(SchemaManager.get_schema())

    async def open(self) -> Any:
        from bench.apps.procrastinate_app import app, noop

        self.app = app
        self.task = noop
        await app.open_async()

    async def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        await self.task.defer_async(t_enq=t_enq, sleep_ms=sleep_ms)

    async def enqueue_bulk(self, jobs: list[tuple[float, float]]) -> Any:
        await self.task.batch_defer_async(*[{"t_enq": t, "sleep_ms": s} for t, s in jobs])

    async def close(self) -> Any:
        await self.app.close_async()
