"""A periodic task's options reach the jobs its ticks fire, on each store: ``max_lost``
and the rate and concurrency limits, which a claim then applies like any limited job's.
The tick loop runs for real against the real store, on the test's clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import jobq
from jobq import Status
from tests.backends.support import claim
from tests.periodic.support import ManualClock, Process

TTL = 5.0


def _fire_two_ticks(app: jobq.App) -> None:
    """One start, then two minutes later: each periodic task (every minute, catch_up
    "all") fires the two ticks between."""
    t0 = (math.floor(time.time() / 60) - 60) * 60.0  # an hour ago: due on the store's clock
    clock = ManualClock(t0 + 30)
    process = Process(app, clock, TTL)
    process.step()
    clock.t = t0 + 121
    process.step()
    process.stop()


def test_periodic_jobs_carry_max_lost_and_limits_and_a_claim_holds_them(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=TTL)

    @app.periodic(every=60, catch_up="all", name="sync", max_lost=1, concurrency_limit=1)
    def sync() -> None: ...

    @app.periodic(every=60, catch_up="all", name="report", rate_limit="1/h",
                  limit_key=lambda: "partner")
    def report() -> None: ...

    @app.periodic(every=60, catch_up="all", name="plain")
    def plain() -> None: ...

    _fire_two_ticks(app)
    fired = {name: [j.record for j in app.jobs(task=name)] for name in ("sync", "report",
                                                                        "plain")}
    assert {name: len(records) for name, records in fired.items()} == {
        "sync": 2, "report": 2, "plain": 2}
    assert {(r.task, r.max_lost, r.limit_key) for rs in fired.values() for r in rs} == {
        ("sync", 1, "sync"), ("report", 3, "partner"), ("plain", 3, None)}

    # One job of each limited task starts; the other waits for its limit, no attempt used.
    started = sorted(c.task for c in claim(app, limit=10))
    assert started == ["plain", "plain", "report", "sync"]
    for name in ("sync", "report"):
        waiting = [r for r in (j.record for j in app.jobs(task=name))
                   if r.status is not Status.RUNNING]
        assert len(waiting) == 1
        assert waiting[0].status in (Status.PENDING, Status.SCHEDULED)
        assert waiting[0].attempts == 0 and waiting[0].limit_held_since is not None
    assert claim(app, limit=10) == []
