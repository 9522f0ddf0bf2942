"""Periodic tasks on each store with a controllable clock: catch-up after downtime, no
backfill, DST, restarts faster than the interval, versions that change or disappear, and
bad definitions. The tick loop runs for real against the real store; only its clock is
the test's (``ManualClock``). The store still holds the lease and admits each tick once."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

import jobq
from jobq.errors import ConfigError
from jobq.periodic import EXPIRES
from tests.backends.support import snapshot
from tests.periodic.support import ManualClock, Process, at, run_ticks

TTL = 5.0  # the simulated processes' lease, in real seconds (the store's clock)


def _minute_ago(minutes: int) -> float:
    """A whole minute at least ``minutes`` minutes in the past (real time): simulated
    ticks must be due on the store's clock."""
    return (math.floor(time.time() / 60) - minutes) * 60.0


# -- test 5: catch-up after downtime, and no backfill --------------------------------------


@pytest.mark.parametrize(("catch_up", "after_downtime"), [("latest", 1), ("all", 5),
                                                          ("none", 0)])
def test_five_minutes_of_downtime_fire_what_catch_up_says(
    make_app: Callable[..., jobq.App], catch_up: str, after_downtime: int,
) -> None:
    app = make_app(lease=TTL)

    @app.periodic(cron="*/1 * * * *", catch_up=catch_up, name="minutely")
    def minutely() -> None: ...

    t0 = _minute_ago(60)
    clock = ManualClock(t0 + 30)  # a first start, 30 s after a tick
    first = Process(app, clock)
    first.step()
    assert run_ticks(app, "minutely") == []  # a first start does not backfill
    clock.t = t0 + 60 + 1
    first.step()
    assert run_ticks(app, "minutely") == [t0 + 60]
    first.stop()

    clock.t = t0 + 60 + 5 * 60 + 30  # five ticks (t0+2m … t0+6m) passed while down
    second = Process(app, clock)
    second.step()
    missed = [t0 + 60 * k for k in range(2, 7)]
    expected = missed[len(missed) - after_downtime:] if after_downtime else []
    assert run_ticks(app, "minutely") == [t0 + 60, *expected]
    second.step()  # nothing more until the next tick
    assert len(run_ticks(app, "minutely")) == 1 + after_downtime
    clock.t = t0 + 7 * 60 + 0.5
    second.step()
    assert run_ticks(app, "minutely")[-1] == t0 + 7 * 60


# -- test 6: DST -------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "fired"), [
    # 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST; 02:30 does not exist
    ("2026-03-27T23:00Z", ["2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"]),
    # 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens twice
    ("2026-10-23T23:00Z", ["2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"]),
])
def test_a_berlin_0230_job_fires_once_a_day_across_dst(
    make_app: Callable[..., jobq.App], start: str, fired: list[str],
) -> None:
    app = make_app(lease=TTL)

    @app.periodic(cron="30 2 * * *", tz="Europe/Berlin", name="nightly")
    def nightly() -> None: ...

    clock = ManualClock(at(start))
    process = Process(app, clock)
    for _ in range(3 * 24 * 4):  # three days in quarter hours
        process.step()
        clock.t += 900
    assert run_ticks(app, "nightly") == [at(t) for t in fired]


# -- test 7: restarts faster than the interval -------------------------------------------


def test_hourly_task_with_a_restart_every_ten_minutes_fires_once_an_hour(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=TTL)

    @app.periodic(every=3600, name="hourly")
    def hourly() -> None: ...

    h0 = (math.floor(time.time() / 3600) - 5) * 3600.0
    clock = ManualClock(h0 + 5 * 60)
    end = h0 + 3 * 3600 + 5 * 60
    restarts = 0
    while clock.t < end:
        process = Process(app, clock, ttl=1.0)
        process.run_until_leading()
        life_ends = min(clock.t + 600, end)
        while clock.t < life_ends:
            # at least half a minute of simulated time a round: a tick may fire that much
            # late (a missed tick, fired by catch_up="latest"), never twice or not at all
            clock.t = min(clock.t + max(process.step(), 30.0), life_ends)
        restarts += 1
        if restarts % 3:
            process.stop()  # a deploy; every third restart is a crash instead
    assert restarts == 18
    assert run_ticks(app, "hourly") == [h0 + 3600, h0 + 7200, h0 + 10800]


# -- versions: renamed, removed, changed -------------------------------------------------


def test_the_leader_fires_tasks_it_does_not_define_until_their_release_is_gone(
    make_app: Callable[..., jobq.App],
) -> None:
    old_release, new_release = make_app(lease=TTL), make_app(lease=TTL)

    @old_release.periodic(every=60, name="report_v1")
    def report_v1() -> None: ...

    @new_release.periodic(every=60, name="report_v2")  # renamed in the new release
    def report_v2() -> None: ...

    t0 = _minute_ago(60)
    clock = ManualClock(t0 + 1)
    old = Process(old_release, clock)
    old.step()  # registers report_v1 and leads
    new = Process(new_release, clock)
    new.step()  # registers report_v2, follows
    old.stop()  # the old release's last worker goes
    for minute in range(1, 4):
        clock.t = t0 + 60 * minute + 1
        new.run_until_leading() if minute == 1 else new.step()
    # The new release leads and fires the old release's task too while that is live.
    assert run_ticks(new_release, "report_v1") == [t0 + 60, t0 + 120, t0 + 180]
    assert run_ticks(new_release, "report_v2") == [t0 + 60, t0 + 120, t0 + 180]
    while clock.t < t0 + 1 + EXPIRES + 300:
        clock.t += 60
        new.step()
    v1 = run_ticks(new_release, "report_v1")
    assert v1[-1] <= t0 + 1 + EXPIRES  # stopped once no live worker registered it
    assert run_ticks(new_release, "report_v2")[-1] >= t0 + EXPIRES + 300


def test_a_changed_schedule_takes_effect_without_a_double_fire(
    make_app: Callable[..., jobq.App],
) -> None:
    old_release, new_release = make_app(lease=TTL), make_app(lease=TTL)

    @old_release.periodic(cron="*/2 * * * *", name="sweep", queue="old")
    def sweep_old() -> None: ...

    @new_release.periodic(every=timedelta(minutes=1), name="sweep", queue="new")
    def sweep_new() -> None: ...

    t0 = _minute_ago(60) // 120 * 120  # an even minute
    clock = ManualClock(t0 + 1)
    old, new = Process(old_release, clock), Process(new_release, clock)
    old.step()
    clock.t += 1  # the new release's first worker starts a second later
    new.step()
    for minute in range(1, 11):  # both releases live, the old one leading
        clock.t = t0 + 60 * minute + 1
        old.step()
        new.step()
    jobs = new_release.jobs(task="sweep", limit=100)
    counts = Counter(job.record.run_at.timestamp() for job in jobs)
    assert sorted(counts) == [t0 + 60 * m for m in range(1, 11)]  # the union, each once
    assert set(counts.values()) == {1}
    assert {job.queue for job in jobs} == {"new"}  # the newest version's options


# -- test 9: bad definitions -------------------------------------------------------------


@pytest.mark.parametrize(("given", "says"), [
    ({"cron": "*/61 * * * *"}, "cron='*/61 * * * *'"),
    ({"cron": "* * *"}, "cron='* * *'"),
    ({"every": 0}, "every must be"),
    ({"every": -1}, "every must be"),
    ({"every": timedelta(seconds=-3)}, "every must be"),
    ({"cron": "* * * * *", "every": 60}, "exactly one of cron="),
    ({}, "exactly one of cron="),
    ({"cron": "0 9 * * *", "tz": "Europe/Atlantis"}, "unknown tz 'Europe/Atlantis'"),
    ({"every": 60, "catch_up": "some"}, "unknown catch_up 'some'"),
    ({"every": 60, "retries": -1}, "retries must be"),
    ({"every": 60, "cron_expr": "* * * * *"}, "unknown periodic option 'cron_expr'"),
])
def test_a_bad_definition_fails_at_decoration_and_stores_nothing(
    make_app: Callable[..., jobq.App], given: dict[str, object], says: str,
) -> None:
    app = make_app(lease=TTL)

    @app.periodic(every=60, name="good")
    def good() -> None: ...

    good.enqueue()
    process = Process(app, ManualClock(time.time()))
    process.step()
    jobs, state = snapshot(app), app.backend.periodic_state()
    with pytest.raises(ConfigError) as caught:

        @app.periodic(**given)  # type: ignore[arg-type]
        def bad() -> None: ...

    assert says in str(caught.value)
    assert set(app.tasks) == {"good"} and set(app.periodic_tasks) == {"good"}
    process.step()
    assert snapshot(app) == jobs
    after = app.backend.periodic_state()
    assert after.definitions == state.definitions and after.last_ticks == state.last_ticks


def test_a_periodic_task_that_needs_arguments_is_refused(
    make_app: Callable[..., jobq.App],
) -> None:
    app = make_app(lease=TTL)
    with pytest.raises(ConfigError, match="every parameter needs a default"):

        @app.periodic(every=60)
        def needs(path: str) -> None: ...

    assert app.tasks == {} and app.periodic_tasks == {}

    @app.periodic(every=60)
    def fine(path: str = "/tmp") -> str:
        return path

    assert fine() == "/tmp" and fine.enqueue().id  # a task like any other
