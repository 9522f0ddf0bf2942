"""The one small interface every benchmarked system implements.

An adapter has two sides. The harness side (metadata, the worker command) runs in the
harness's own virtualenv and never imports the system. The client side (``setup``,
``open``, ``enqueue_one``, ``enqueue_bulk``) runs in the system's virtualenv, inside
``bench/agent.py``, and imports the system lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432")
ADMIN_DB = os.environ.get("BENCH_POSTGRES_ADMIN_DB", "test")
COUNTER_DB = 15  # the harness's own Redis database: counters, marks, latency lists
SYSTEM_DBS = range(9, 15)  # one Redis database per system; nothing else uses them


@dataclass(frozen=True)
class Variant:
    """A tuned configuration of a system, reported on its own labelled row."""

    name: str
    label: str
    note: str


class Adapter:
    """Base of every system adapter; subclasses fill in the class attributes."""

    name = ""  # key in results and on the command line
    label = ""  # as printed in tables
    venv = ""  # bench/.venvs/<venv>
    requirements: tuple[str, ...] = ()  # pip install arguments
    packages: tuple[str, ...] = ()  # whose versions are recorded
    store = "redis"  # redis | postgres | sqlite
    redis_db: int | None = None
    has_bulk = False
    bulk_api = ""  # the name of the bulk API, when there is one
    config: str = ""  # the configuration used, in a sentence
    variants: tuple[Variant, ...] = ()
    # The worker used for the backlog levels when the default one cannot finish a drain
    # in time (a finished-only store is needed before cloning a finished job).
    backlog_variant: str | None = None

    # -- harness side ---------------------------------------------------------------------

    def available(self, repo: Path) -> str | None:
        """None when the system can run; else why not."""
        return None

    def store_url(self, work: Path) -> str:
        if self.store == "redis":
            assert self.redis_db in SYSTEM_DBS
            return f"{REDIS_URL}/{self.redis_db}"
        raise NotImplementedError

    def env(self, work: Path) -> dict[str, str]:
        """Environment for the client and the worker: where the system's store is."""
        return {"BENCH_STORE_URL": self.store_url(work)}

    def worker_command(
        self, bin_dir: Path, concurrency: int, variant: str | None, store_url: str
    ) -> tuple[list[str], dict[str, str]]:
        """The system's standard worker command at this concurrency, plus extra env."""
        raise NotImplementedError

    # -- client side (runs in the system's venv) --------------------------------------------

    def setup(self) -> None:
        """Empty this system's isolated store and create its schema if it has one."""
        if self.store == "redis":
            import redis

            assert self.redis_db in SYSTEM_DBS  # never anything but our own database
            redis.Redis.from_url(os.environ["BENCH_STORE_URL"]).flushdb()

    def open(self) -> Any:
        """Connect the client; may be a coroutine."""
        return None

    def enqueue_one(self, t_enq: float, sleep_ms: float) -> Any:
        raise NotImplementedError

    def enqueue_bulk(self, jobs: list[tuple[float, float]]) -> Any:
        raise NotImplementedError

    def close(self) -> Any:
        return None


def ensure_database(name: str) -> None:
    """Create a PostgreSQL database for the benchmark if it does not exist (client side)."""
    import psycopg

    with psycopg.connect(f"{POSTGRES_URL}/{ADMIN_DB}", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
