"""Connections dropped by the server: workers log, reconnect and lose no job.

``pg_terminate_backend`` is what a server restart or failover does to every session;
the connections to end are picked by an ``application_name`` unique to the test, so
nothing else on the server is touched.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobq
from tests import isolation
from tests.services import POSTGRES_URL, unique_name
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import read_runs

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow

JOBS = 1_000
WORK = 0.02  # seconds per task: with 4 threads the drain spans many terminations
LEASE = 3.0  # a claim whose reply died with its connection comes back this soon


def _named(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def _terminate(application_name: str) -> int:
    """End every session with this application name; return how many there were."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


@pytest.fixture
def killable(store: isolation.Store, tmp_path: Path) -> Iterator[tuple[str, Workers]]:
    """An application name, and worker processes whose sessions carry it."""
    name = unique_name("jobq_kill")
    named = isolation.Store(_named(store.url, name), store.options, "postgres")
    started = Workers(named, tmp_path)
    try:
        yield name, started
    finally:
        started.kill_all()


def test_a_worker_drains_the_queue_while_its_sessions_are_terminated(
    store_app: Callable[..., jobq.App], killable: tuple[str, Workers], run_dir: Path,
) -> None:
    name, workers = killable
    app = store_app(lease=LEASE)
    jobs = app.enqueue_many([app.tasks["record"].call(str(run_dir), WORK)
                             for _ in range(JOBS)])
    worker = workers.start(lease=LEASE, concurrency=4)
    wait_for(lambda: read_runs(run_dir), what="the worker to start running jobs")

    terminated: list[int] = []

    def terminate_then_check() -> bool:
        terminated.append(_terminate(name))
        counts = app.stats().get("default", {})
        return counts.get("succeeded") == JOBS

    # Every half second, end all of the worker's sessions (pool and LISTEN alike).
    wait_for(terminate_then_check, timeout=180, interval=0.5,
             what=f"all {JOBS} jobs to succeed while the worker's sessions are terminated")
    assert worker.proc.poll() is None, "the worker died:\n" + worker.log()
    assert sum(1 for n in terminated if n) >= 3, f"too few sessions terminated: {terminated}"

    done = Counter(r.job_id for r in read_runs(run_dir) if r.event == "done")
    assert set(done) == {job.id for job in jobs}
    assert all(j.status is jobq.Status.SUCCEEDED
               for j in app.jobs(limit=JOBS + 1)), "a job did not succeed"

    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.log()


def _listening_session(application_name: str, not_pid: int | None = None) -> int | None:
    """The pid of a session with this name that has listened and looked for work."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND query LIKE 'SELECT EXISTS%%' AND pid IS DISTINCT FROM %s",
            [application_name, not_pid]).fetchone()
    return None if row is None else int(row[0])


def test_a_waiting_worker_listens_again_after_its_session_is_terminated(
    store: isolation.Store,
) -> None:
    name = unique_name("jobq_listen")
    waiter = jobq.App(_named(store.url, name), **store.options)
    producer = jobq.App(store.url, **store.options)
    producer.task(name="noop")(lambda: None)
    try:
        waiter.backend.wait_for_work(0.01)  # starts listening
        first = wait_for(lambda: _listening_session(name), what="the first LISTEN session")
        assert _terminate(name) == 1
        wait_for(lambda: _listening_session(name, not_pid=first), timeout=30,
                 what="the LISTEN session to come back")
        waiter.backend.wait_for_work(0.01)  # the wake-up "you may have missed something"

        # Only a notification can end this wait well before its 60 s timeout.
        returned = threading.Event()
        thread = threading.Thread(
            target=lambda: (waiter.backend.wait_for_work(60.0), returned.set()), daemon=True)
        started = time.monotonic()
        thread.start()
        while not returned.wait(0.5):
            producer.enqueue("noop")
            assert time.monotonic() - started < 20, "wait_for_work was not woken"
        thread.join(5)
    finally:
        waiter.close()
        producer.close()
