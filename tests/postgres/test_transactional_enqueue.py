"""Transactional enqueue: a job passed the application's own psycopg connection exists
exactly when the application's transaction commits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import jobq
from jobq import Status
from tests import isolation
from tests.services import POSTGRES_URL

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def shop(store: isolation.Store) -> Iterator[tuple[jobq.App, list[int]]]:
    """An App whose ``ship`` task records the orders it shipped, and an orders table in
    the store's schema standing in for the application's own data."""
    schema = store.options["schema"]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".orders (id integer PRIMARY KEY)')
    app = jobq.App(store.url, **store.options)
    shipped: list[int] = []

    @app.task(name="ship", retries=0)
    def ship(order_id: int) -> str:
        shipped.append(order_id)
        return f"shipped {order_id}"

    try:
        yield app, shipped
    finally:
        app.close()


def _orders(schema: str) -> list[int]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        return [i for (i,) in conn.execute(f'SELECT id FROM "{schema}".orders ORDER BY id')]


def test_a_committed_enqueue_runs(shop: tuple[jobq.App, list[int]],
                                  store: isolation.Store) -> None:
    app, shipped = shop
    schema = store.options["schema"]
    with psycopg.connect(POSTGRES_URL) as conn, conn.transaction():
        conn.execute(f'INSERT INTO "{schema}".orders VALUES (1)')
        job = app.tasks["ship"].with_options(connection=conn).enqueue(1)
        # Until the caller commits, nobody else can see (or run) the job.
        assert app.get_job(job.id) is None
        app.run_worker(concurrency=1, burst=True)
        assert shipped == []
    assert _orders(schema) == [1]
    app.run_worker(concurrency=1, burst=True)
    assert job.result(timeout=10) == "shipped 1"
    assert shipped == [1]


def test_a_rolled_back_enqueue_never_existed(shop: tuple[jobq.App, list[int]],
                                             store: isolation.Store) -> None:
    app, shipped = shop
    schema = store.options["schema"]
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute(f'INSERT INTO "{schema}".orders VALUES (2)')
        job = app.tasks["ship"].with_options(connection=conn).enqueue(2)
        conn.rollback()
    assert _orders(schema) == []
    assert app.get_job(job.id) is None
    assert app.jobs() == []
    app.run_worker(concurrency=1, burst=True)
    assert shipped == []
    assert app.stats() == {}


def test_only_a_committed_enqueue_notifies(shop: tuple[jobq.App, list[int]],
                                           store: isolation.Store) -> None:
    app, _ = shop
    backend: Any = app.backend
    ship = app.tasks["ship"]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as listener:
        listener.execute(f'LISTEN "{backend.channel}"')
        with psycopg.connect(POSTGRES_URL) as conn:
            ship.with_options(connection=conn).enqueue(3)
            conn.rollback()
            ship.with_options(connection=conn).enqueue(4)
            conn.commit()
        # Notifications arrive in commit order: once the committed one is here, a
        # notification from the rolled-back transaction would have arrived before it.
        received = list(listener.notifies(timeout=10, stop_after=1))
        received += list(listener.notifies(timeout=0.2))
    assert [n.channel for n in received] == [backend.channel]


def test_keys_and_search_path_inside_the_callers_transaction(
    shop: tuple[jobq.App, list[int]], store: isolation.Store
) -> None:
    app, _ = shop
    ship = app.tasks["ship"]
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute("SET search_path = pg_catalog")  # jobq names its schema itself
        first = ship.with_options(connection=conn, key="order:5").enqueue(5)
        again = ship.with_options(connection=conn, key="order:5").enqueue(5)
        assert again.id == first.id
        conn.commit()
    jobs = app.jobs()
    assert [j.id for j in jobs] == [first.id]
    assert jobs[0].status is Status.PENDING and jobs[0].key == "order:5"


def test_an_autocommit_connection_stores_the_job_at_once(
    shop: tuple[jobq.App, list[int]]
) -> None:
    app, _ = shop
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        job = app.tasks["ship"].with_options(connection=conn).enqueue(6)
        assert app.get_job(job.id) is not None
