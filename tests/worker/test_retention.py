"""Retention: workers prune old succeeded and cancelled jobs, never the dead-letter list."""

from __future__ import annotations

from collections.abc import Callable

import jobq
from jobq import Status
from jobq.worker import Worker
from tests.waiting import wait_for


def test_retention_prunes_succeeded_and_cancelled_but_keeps_failed(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=2.0, retention=0.2)

    @app.task(name="outcome")
    def outcome(fail: bool) -> str:
        if fail:
            raise ValueError("bad input")
        return "ok"

    succeeded, failed = outcome.enqueue(False), outcome.enqueue(True)
    cancelled = outcome.with_options(delay=3600).enqueue(False)
    cancelled.cancel()
    live = outcome.with_options(delay=3600).enqueue(False)
    app.run_worker(concurrency=1, burst=True)
    assert succeeded.refresh().status is Status.SUCCEEDED
    assert failed.refresh().status is Status.FAILED

    worker = Worker(app, concurrency=1)
    # Past the retention period the prune removes what retention covers (on Redis the
    # records' TTL may already have removed them).
    wait_for(lambda: (worker._prune(), app.get_job(succeeded.id) is None)[1],
             what="the succeeded job to be pruned")
    assert app.get_job(cancelled.id) is None
    assert app.get_job(failed.id) is not None, "the dead-letter list is never pruned"
    assert app.get_job(live.id) is not None
    assert {j.id for j in app.jobs()} == {failed.id, live.id}
