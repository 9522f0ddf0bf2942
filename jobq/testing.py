"""Testing code that enqueues jobs, and the tasks themselves, without a server.

jobq keeps its semantics in tests instead of faking them: ``in_memory(app)`` points the
App at a real SQLite store held in memory (the same store, queries and state machine as
production, gone when the block ends), and ``drain(app)`` runs every job that is due
with a real burst worker, in this process, then returns. Arguments go through JSON, a
failing task is retried as configured, and ``jobq.current_job()`` works inside tasks::

    def test_welcome_mail_is_sent():
        with jobq.testing.in_memory(app):
            signup("ada@example.com")          # your code, which enqueues a job
            done = jobq.testing.drain(app)     # raises JobFailed if a job failed
            assert [job.task for job in done] == ["myapp.send_welcome"]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from jobq.app import App
from jobq.errors import JobFailed
from jobq.job import FINISHED, Job, Status

MEMORY_URL = "sqlite:///:memory:"


@contextmanager
def in_memory(app: App) -> Iterator[App]:
    """Point ``app`` at a fresh, empty SQLite store in memory for the block; its own
    store comes back afterwards. Every job enqueued inside is gone when the block ends."""
    url = app.settings.url
    app.reconfigure(url=MEMORY_URL)
    try:
        yield app
    finally:
        app.reconfigure(url=url)


def drain(app: App, queues: Sequence[str] | None = None, *, concurrency: int = 1,
          raise_failed: bool = True) -> list[Job]:
    """Run every job that is due in ``queues`` (default: the app's default queue) until
    none is left, as ``app.run_worker(burst=True)`` does; return the jobs that finished,
    oldest first.

    Retries run after their backoff, as in production (give tasks a small ``Backoff`` in
    tests to keep them quick); jobs enqueued with a delay are left waiting. With
    ``raise_failed`` (the default), a job that ended ``failed`` raises ``JobFailed`` with
    its error and traceback once the drain is over.
    """
    before = {job.id for job in _finished(app)}
    app.run_worker(concurrency=concurrency, queues=queues, burst=True)
    done = [job for job in _finished(app) if job.id not in before]
    done.sort(key=lambda job: (job.finished_at or job.created_at, job.id))
    failed = [job for job in done if job.status is Status.FAILED]
    if raise_failed and failed:
        first = failed[0]
        error = first.error
        raise JobFailed(first.id, error.type if error else "UnknownError",
                        error.message if error else "no error was recorded",
                        error.traceback if error else "")
    return done


def _finished(app: App) -> list[Job]:
    found: list[Job] = []
    for status in FINISHED:
        offset = 0
        while page := app.jobs(status=status, limit=500, offset=offset):
            found.extend(page)
            offset += len(page)
    return found
