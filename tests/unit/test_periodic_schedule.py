"""Schedule math, pure: aligned ``every=`` ticks, cron in a time zone across DST, the
catch-up policies, and how versions of one periodic task combine."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jobq.errors import ConfigError
from jobq.limits import JobLimits
from jobq.periodic import (
    CATCH_UP_CAP,
    Cron,
    Every,
    PeriodicSpec,
    Version,
    due,
    make_schedule,
    next_tick,
    plan,
)

MS = 1000
MIN = 60 * MS
HOUR = 60 * MIN
DAY = 24 * HOUR


def ms(text: str) -> int:
    """An ISO time (UTC unless it says otherwise) as epoch milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def iso(tick: int) -> str:
    return datetime.fromtimestamp(tick / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def spec(schedule: Every | Cron, catch_up: str = "latest", name: str = "t",
         queue: str = "default") -> PeriodicSpec:
    return PeriodicSpec(name, schedule, catch_up, queue, 0, 1, None)


# -- every= ------------------------------------------------------------------------------------


def test_every_ticks_are_aligned_to_the_unix_epoch_whenever_the_process_started() -> None:
    five = make_schedule(every=timedelta(minutes=5))
    assert five == Every(5 * MIN)
    start = ms("2026-05-01T10:03:17.250Z")
    assert iso(five.next_after(start)) == "2026-05-01T10:05Z"
    assert five.next_after(ms("2026-05-01T10:05Z")) == ms("2026-05-01T10:10Z")
    assert make_schedule(every=1).next_after(start) == ms("2026-05-01T10:03:18Z")
    hourly = make_schedule(every=3600)
    assert [iso(t) for t in hourly.ticks(ms("2026-05-01T09:30Z"), ms("2026-05-01T12:00Z"),
                                         10)] == ["2026-05-01T10:00Z", "2026-05-01T11:00Z",
                                                  "2026-05-01T12:00Z"]


def test_ticks_in_a_window_are_the_newest_ones_up_to_the_limit() -> None:
    minute = Every(MIN)
    after, upto = ms("2026-05-01T00:00Z"), ms("2026-05-01T10:00Z")
    got = minute.ticks(after, upto, 3)
    assert [iso(t) for t in got] == ["2026-05-01T09:58Z", "2026-05-01T09:59Z",
                                     "2026-05-01T10:00Z"]
    assert minute.ticks(upto, upto, 3) == []  # (after, upto]: empty


# -- cron --------------------------------------------------------------------------------------


def test_cron_ticks_follow_the_expression_in_its_time_zone() -> None:
    every_five = make_schedule(cron="*/5 * * * *")
    assert every_five == Cron("*/5 * * * *", "UTC")
    assert iso(every_five.next_after(ms("2026-05-01T10:03:59Z"))) == "2026-05-01T10:05Z"
    berlin = make_schedule(cron="0 9 * * *", tz="Europe/Berlin")
    assert iso(berlin.next_after(ms("2026-01-10T00:00Z"))) == "2026-01-10T08:00Z"  # CET
    assert iso(berlin.next_after(ms("2026-07-10T00:00Z"))) == "2026-07-10T07:00Z"  # CEST
    assert make_schedule(cron="@hourly") == Cron("0 * * * *", "UTC")


def test_a_tick_on_the_boundary_is_not_after_itself() -> None:
    hourly = make_schedule(cron="0 * * * *")
    assert iso(hourly.next_after(ms("2026-05-01T10:00Z"))) == "2026-05-01T11:00Z"
    assert iso(hourly.next_after(ms("2026-05-01T09:59:59.999Z"))) == "2026-05-01T10:00Z"


@pytest.mark.parametrize("expr", ["*/7 * * * *", "30 2 * * *", "0 * * * *", "15 3 * * 1",
                                  "30 * * * *"])
def test_ticks_over_a_long_window_match_plain_forward_iteration(expr: str) -> None:
    cron = Cron(expr, "Europe/Berlin")
    after, upto = ms("2026-03-20T00:00Z"), ms("2026-04-02T00:00Z")  # across the spring DST
    forward, t = [], after
    while (t := cron.next_after(t)) is not None and t <= upto:  # type: ignore[assignment]
        forward.append(t)
    assert cron.ticks(after, upto, 40) == forward[-40:]
    assert cron.ticks(after, upto, 10_000) == forward


# -- DST (test 6) ------------------------------------------------------------------------------


def _fired_on(cron: Cron, day: str) -> list[str]:
    start = ms(f"{day}T00:00+02:00") - 2 * HOUR  # local midnight, either offset
    return [iso(t) for t in cron.ticks(start - 1, start + DAY + 4 * HOUR, 100)
            if datetime.fromtimestamp(t / 1000, cron.zone).date().isoformat() == day]


def test_a_local_time_that_does_not_exist_fires_once_just_after_the_gap() -> None:
    # Europe/Berlin on 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 never happens.
    cron = make_schedule(cron="30 2 * * *", tz="Europe/Berlin")
    assert isinstance(cron, Cron)
    assert _fired_on(cron, "2026-03-28") == ["2026-03-28T01:30Z"]  # 02:30 CET
    assert _fired_on(cron, "2026-03-29") == ["2026-03-29T01:00Z"]  # 03:00 CEST
    assert _fired_on(cron, "2026-03-30") == ["2026-03-30T00:30Z"]  # 02:30 CEST


def test_an_ambiguous_local_time_fires_once() -> None:
    # Europe/Berlin on 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    cron = make_schedule(cron="30 2 * * *", tz="Europe/Berlin")
    assert isinstance(cron, Cron)
    assert _fired_on(cron, "2026-10-25") == ["2026-10-25T00:30Z"]  # the first 02:30 (CEST)
    assert _fired_on(cron, "2026-10-26") == ["2026-10-26T01:30Z"]  # 02:30 CET
    # Starting inside the second 02:30 hour does not fire the first one again.
    assert iso(cron.next_after(ms("2026-10-25T01:10Z"))) == "2026-10-26T01:30Z"


def test_a_wildcard_hour_fires_at_every_real_instant() -> None:
    cron = make_schedule(cron="30 * * * *", tz="Europe/Berlin")
    assert isinstance(cron, Cron)
    autumn = _fired_on(cron, "2026-10-25")
    assert len(autumn) == 25 and {"2026-10-25T00:30Z", "2026-10-25T01:30Z"} <= set(autumn)
    spring = _fired_on(cron, "2026-03-29")
    assert len(spring) == 23 and len(set(spring)) == 23


# -- catch-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("catch_up", "fired"), [
    ("latest", ["10:05"]), ("none", []), ("all", ["10:01", "10:02", "10:03", "10:04", "10:05"]),
])
def test_missed_ticks_follow_the_catch_up_policy(catch_up: str, fired: list[str]) -> None:
    minute = make_schedule(cron="* * * * *")
    last, now = ms("2026-05-01T10:00Z"), ms("2026-05-01T10:05:30Z")
    got = due(minute, catch_up, last, now, grace=4 * MS)
    assert [iso(t)[-6:-1] for t in got] == fired


def test_on_time_ticks_always_fire_and_latest_then_skips_the_missed_ones() -> None:
    second = Every(MS)
    last, now = ms("2026-05-01T10:00:00Z"), ms("2026-05-01T10:00:10.5Z")
    for catch_up in ("latest", "none"):
        got = due(second, catch_up, last, now, grace=3 * MS)
        assert [t - last for t in got] == [8 * MS, 9 * MS, 10 * MS]
    assert len(due(second, "all", last, now, grace=3 * MS)) == 10


def test_catch_up_all_is_capped_at_the_newest_ticks() -> None:
    got = due(Every(MS), "all", 0, 10_000 * MS, grace=0)
    assert len(got) == CATCH_UP_CAP and got[-1] == 10_000 * MS


def test_a_new_version_does_not_backfill_and_nothing_fires_twice() -> None:
    minute = spec(Every(MIN), "all")
    registered = ms("2026-05-01T10:00:30Z") / 1000
    now = ms("2026-05-01T10:00:40Z")
    assert plan([Version(minute, registered, registered)], None, now, 4 * MS) == []
    later = ms("2026-05-01T10:03:00Z")
    ticks = [t for t, _ in plan([Version(minute, registered, registered)], None, later, 4 * MS)]
    assert [iso(t) for t in ticks] == ["2026-05-01T10:01Z", "2026-05-01T10:02Z",
                                       "2026-05-01T10:03Z"]
    assert plan([Version(minute, registered, registered)], ticks[-1], later, 4 * MS) == []


def test_versions_of_one_task_fire_each_shared_tick_once_with_the_newest_options() -> None:
    old = spec(make_schedule(cron="*/2 * * * *"), queue="old")
    new = spec(Every(MIN), queue="new")
    first = ms("2026-05-01T09:00Z") / 1000
    versions = [Version(new, first + 60, first + 600), Version(old, first, first + 600)]
    now = ms("2026-05-01T10:04:01Z")
    got = plan(versions, ms("2026-05-01T10:01Z"), now, 300 * MS)
    assert [(iso(t)[-6:-1], s.queue) for t, s in got] == [
        ("10:02", "new"), ("10:03", "new"), ("10:04", "new")]
    assert next_tick(versions, now) == ms("2026-05-01T10:05Z")


# -- definitions and bad input -----------------------------------------------------------------


def test_a_spec_survives_the_store_and_its_hash_names_its_version() -> None:
    one = PeriodicSpec("sweep", Cron("*/5 * * * *", "Europe/Berlin"), "all", "mail", 3, 4, 9.5)
    assert PeriodicSpec.from_json("sweep", one.to_json()) == one
    assert len(one.hash) == 16
    assert one.hash == PeriodicSpec.from_json("sweep", one.to_json()).hash
    other = PeriodicSpec("sweep", Every(300 * MS), "all", "mail", 3, 4, 9.5)
    assert other.hash != one.hash
    assert PeriodicSpec.from_json("sweep", other.to_json()) == other


def test_a_definition_with_default_options_keeps_the_hash_it_had_before_they_existed() -> None:
    # Written (and hashed) by a jobq whose specs had no max_lost nor limits.
    old = ('{"catch_up":"all","max_attempts":4,"priority":3,"queue":"mail",'
           '"schedule":{"cron":"*/5 * * * *","tz":"Europe/Berlin"},"timeout":9.5}')
    spec = PeriodicSpec("sweep", Cron("*/5 * * * *", "Europe/Berlin"), "all", "mail", 3, 4, 9.5)
    assert spec.to_json() == old
    assert spec.hash == "cc4a78652bd5c69b"
    read = PeriodicSpec.from_json("sweep", old)
    assert read == spec and (read.max_lost, read.limits()) == (3, None)


def test_max_lost_and_limits_are_a_new_version_and_survive_the_store() -> None:
    plain = PeriodicSpec("sweep", Every(60 * MS), "latest", "default", 0, 1, None)
    limited = replace(plain, max_lost=1, rate_limit="2/m", rate_burst=3, concurrency_limit=1,
                      limit_key="partner")
    assert PeriodicSpec.from_json("sweep", limited.to_json()) == limited
    assert limited.hash != plain.hash
    assert json.loads(limited.to_json())["max_lost"] == 1
    assert limited.limits() == JobLimits("partner", 1, 30.0, 3)
    # without a key, the task as a whole is limited, as for any job of the task
    assert replace(plain, concurrency_limit=2).limits() == JobLimits("sweep", 2, None, 1)
    with pytest.raises(ConfigError, match="rate_limit='2/x'"):
        PeriodicSpec.from_json("sweep", plain.to_json()[:-1] + ',"rate_limit":"2/x"}')


@pytest.mark.parametrize(("given", "says"), [
    ({"cron": "*/61 * * * *"}, "minute step '61' must be 1 to 60"),
    ({"cron": "* * *"}, "has 3 field(s), not 5"),
    ({"cron": "* * * * * *"}, "has 6 field(s), not 5"),
    ({"cron": "61 * * * *"}, "not a valid cron expression"),
    ({"cron": 5}, "cron must be a string"),
    ({"every": 0}, "every must be a positive number of seconds"),
    ({"every": -5}, "every must be a positive number of seconds"),
    ({"every": timedelta(0)}, "every must be a positive number of seconds"),
    ({"every": True}, "every must be a positive number of seconds"),
    ({"every": 0.0001}, "at least one millisecond"),
    ({"cron": "* * * * *", "every": 5}, "exactly one of cron="),
    ({}, "exactly one of cron="),
    ({"cron": "* * * * *", "tz": "Mars/Olympus_Mons"}, "unknown tz 'Mars/Olympus_Mons'"),
    ({"every": 5, "tz": "Europe/Berlin"}, "applies to cron= only"),
])
def test_bad_schedules_say_which_field_is_wrong(given: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_schedule(**given)
    assert says in str(caught.value)
