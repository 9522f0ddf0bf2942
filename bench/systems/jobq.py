"""jobq on its three stores: SQLite (embedded), PostgreSQL and Redis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.systems.base import POSTGRES_URL, REDIS_URL, Adapter, ensure_database

DATABASE = "bench_jobq"
SCHEMA = "jobq_bench"
PREFIX = "jobqbench:"


class JobqAdapter(Adapter):
    venv = "jobq"
    packages = ("jobq", "psycopg", "redis")
    has_bulk = True
    bulk_api = "app.enqueue_many"
    module = ""  # jobq/backends/<module>.py

    @property
    def requirements(self) -> tuple[str, ...]:  # type: ignore[override]
        repo = Path(__file__).resolve().parents[2]
        return ("-e", f"{repo}[postgres,redis]")

    def available(self, repo: Path) -> str | None:
        if not (repo / "jobq" / "backends" / f"{self.module}.py").exists():
            return f"not available: jobq/backends/{self.module}.py does not exist yet"
        return None

    def env(self, work: Path) -> dict[str, str]:
        return {"BENCH_STORE_URL": self.store_url(work), "BENCH_JOBQ_SCHEMA": SCHEMA,
                "BENCH_JOBQ_PREFIX": PREFIX}

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        repo = Path(__file__).resolve().parents[2]
        if (repo / "jobq" / "cli.py").exists() or (repo / "jobq" / "cli").is_dir():
            # $JOBQ_APP names the app, wherever the CLI places its --app option.
            return [str(bin_dir / "jobq"), "worker", "--concurrency", str(concurrency),
                    "--queues", "default"], {"JOBQ_APP": "bench.apps.jobq_app:app"}
        # No `jobq worker` yet in this tree: the same Worker through app.run_worker.
        return [str(bin_dir / "python"), "-m", "bench.apps.jobq_app", str(concurrency)], {}

    def setup(self) -> None:
        self._reset()
        from bench.apps.jobq_app import app

        app.migrate()
        app.close()

    def _reset(self) -> None:
        raise NotImplementedError

    def open(self) -> Any:
        from bench.apps.jobq_app import app, noop

        self.app, self.task = app, noop

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        self.task.enqueue(t_enq, sleep_ms)

    def enqueue_bulk(self, jobs: list[tuple[float, float]]) -> Any:
        self.app.enqueue_many([self.task.call(t, s) for t, s in jobs])

    def close(self) -> Any:
        self.app.close()


class JobqSQLite(JobqAdapter):
    name, label, store, module = "jobq-sqlite", "jobq (SQLite)", "sqlite", "sqlite"
    config = ("SQLite file (WAL), `jobq worker --concurrency N --queues default` "
              "(thread pool), finished jobs kept (default retention 7 days).")

    def store_url(self, work: Path) -> str:
        return f"sqlite:///{work / 'jobq-bench.db'}"

    def _reset(self) -> None:
        path = os.environ["BENCH_STORE_URL"].removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


class JobqPostgres(JobqAdapter):
    name, label, store, module = "jobq-postgres", "jobq (PostgreSQL)", "postgres", "postgres"
    config = (f"PostgreSQL (database `{DATABASE}`, schema `{SCHEMA}`), "
              "`jobq worker --concurrency N --queues default`.")

    def store_url(self, work: Path) -> str:
        return f"{POSTGRES_URL}/{DATABASE}"

    def _reset(self) -> None:
        import psycopg

        ensure_database(DATABASE)
        with psycopg.connect(os.environ["BENCH_STORE_URL"], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')


class JobqRedis(JobqAdapter):
    name, label, store, module = "jobq-redis", "jobq (Redis)", "redis", "redis"
    redis_db = 14
    config = (f"Redis (database 14, key prefix `{PREFIX}`), "
              "`jobq worker --concurrency N --queues default`.")

    def _reset(self) -> None:
        Adapter.setup(self)

    def store_url(self, work: Path) -> str:
        return f"{REDIS_URL}/{self.redis_db}"
