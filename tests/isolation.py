"""One isolated store per test: a SQLite file, a PostgreSQL schema, or a Redis key prefix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.services import POSTGRES_URL, REDIS_URL, unavailable, unique_name


@dataclass
class Store:
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    backend: str = "sqlite"

    def drop(self) -> None:
        if self.backend == "postgres":
            _drop_postgres_schema(self.options["schema"])
        elif self.backend == "redis":
            _drop_redis_prefix(self.options["prefix"])


def open_store(backend: str, tmp_path: Path) -> Store:
    if backend == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'jobq.db'}")
    if backend == "postgres":
        _check_postgres()
        store = Store(POSTGRES_URL, {"schema": unique_name("jobq_t")}, "postgres")
        _migrate(store)  # a PostgreSQL store is created by `jobq migrate`, never implicitly
        return store
    if backend == "redis":
        _check_redis()
        return Store(REDIS_URL, {"prefix": unique_name("jobq_t") + ":"}, "redis")
    raise ValueError(backend)


def _migrate(store: Store) -> None:
    import jobq

    app = jobq.App(store.url, **store.options)
    try:
        app.migrate()
    finally:
        app.close()


def _check_postgres() -> None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to reach the server means "unavailable"
        unavailable(f"PostgreSQL at {POSTGRES_URL}", str(exc).strip())


def _check_redis() -> None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL}", str(exc).strip())


def _drop_postgres_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _drop_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
