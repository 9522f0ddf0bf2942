"""The store itself restarted for real in the middle of a drain (a private server, killed
as a crash would): the worker waits it out, and nothing is lost or failed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import jobq
from tests.isolation import Store
from tests.services import unique_name
from tests.waiting import wait_for
from tests.worker import subject
from tests.worker.harness import Workers

pytestmark = pytest.mark.slow

JOBS = 300
WORK = 0.01
LEASE = 2.0


@contextmanager
def _private_store(backend: str, tmp_path: Path) -> Iterator[tuple[Any, Store]]:
    if backend == "postgres":
        from tests.postgres.private import private_postgres

        with private_postgres() as pg:
            yield pg, Store(pg.url, {"schema": "jobq"}, "postgres")
        return
    from tests.redis.private import private_redis

    folder = tmp_path / "redis"
    folder.mkdir()
    # appendfsync always: every acknowledged write survives the kill.
    with private_redis(folder, appendonly=True) as redis:
        yield redis, Store(redis.url, {"prefix": unique_name("jobq_t") + ":"}, "redis")


def _succeeded(app: jobq.App) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


@pytest.mark.parametrize("backend_name", ["postgres", "redis"])
def test_a_store_restarted_mid_drain_loses_and_fails_nothing(
    backend_name: str, tmp_path: Path, run_dir: Path
) -> None:
    with _private_store(backend_name, tmp_path) as (server, store):
        app = subject.build_app(store.url, {**store.options, "lease": LEASE})
        app.migrate()
        started = Workers(store, tmp_path)
        try:
            task = app.tasks["record"]  # retries=0
            jobs = app.enqueue_many([task.call(str(run_dir), WORK) for _ in range(JOBS)])
            worker = started.start(lease=LEASE, concurrency=4)
            wait_for(lambda: _succeeded(app) >= 50, timeout=60, what="the drain to start")
            if backend_name == "postgres":
                server.crash()
            else:
                server.stop()  # SIGKILL, with jobs running in the worker
            server.start()
            assert _succeeded(app) < JOBS, "the drain ended before the restart"
            wait_for(lambda: _succeeded(app) == JOBS, timeout=120,
                     what=f"all {JOBS} jobs to succeed; worker log:\n{worker.log()}")
            worker.send(signal.SIGTERM)
            assert worker.wait(60) == 0, worker.log()
            assert app.stats() == {"default": {"succeeded": JOBS}}
            assert {job.refresh().attempts for job in jobs} == {1}
            if backend_name == "redis":
                from tests.redis.layout import check_layout

                with server.client() as client:
                    check_layout(client, store.options["prefix"])
        finally:
            started.kill_all()
            app.close()
