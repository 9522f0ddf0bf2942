"""The tick loop inside a worker, on each store: it leads, fires, and gives the lease up
on a clean stop; a store error means "not leader" until a later round succeeds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jobq
from jobq.backends.base import Lease
from jobq.errors import BackendError
from jobq.worker.leader import ERROR_RETRY, PeriodicLoop, holder_id
from tests.periodic.support import ManualClock
from tests.waiting import wait_for
from tests.worker.harness import worker_thread


def test_a_worker_fires_its_periodic_task_and_resigns_when_it_stops(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=2.0)
    ran: list[float] = []

    @app.periodic(every=0.25, name="beat", queue="beats")
    def beat() -> None:
        ran.append(time.time())

    with worker_thread(app, queues=["beats"], concurrency=2) as worker:
        wait_for(lambda: len(ran) >= 3, timeout=30, what="three beats to run")
        lease = app.backend.periodic_state().leader
        assert lease.held_by(lease.holder or "") and (lease.holder or "").startswith(worker.id)
    after = app.backend.periodic_state()
    assert after.leader.expires_at <= after.now  # given up at once, not left to run out
    runs = sorted(j.record.run_at.timestamp() for j in app.jobs(task="beat", limit=1000))
    assert len(runs) == len(set(runs)) and all(round(t * 4) == t * 4 for t in runs)


class _Flaky:
    """The real store, but the next ``lead`` call fails as a dropped connection would."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.fail_next = False

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        if self.fail_next:
            self.fail_next = False
            raise BackendError("the store went away")
        lease: Lease = self._backend.lead(holder, term, ttl)
        return lease

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def test_an_error_while_renewing_means_not_leader_until_a_renewal_succeeds(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=30.0)

    @app.periodic(every=60, name="sweep")
    def sweep() -> None: ...

    flaky = _Flaky(app.backend)
    clock = ManualClock(time.time())
    now = [0.0]
    loop = PeriodicLoop(flaky, list(app.periodic_tasks.values()),  # type: ignore[arg-type]
                        holder_id("w"), 30.0, clock, monotonic=lambda: now[0])
    loop.step()
    assert loop.leading
    term = loop.term
    now[0] += 11.0  # past the renewal point, inside the lease
    flaky.fail_next = True
    assert loop.step() == ERROR_RETRY
    assert not loop.leading
    loop.step()
    assert loop.leading and loop.term == term  # renewed under the same term
    now[0] += 100.0  # this process was paused past its lease
    loop.step()
    assert loop.leading and loop.term == term  # nobody else wanted it: renewed again
