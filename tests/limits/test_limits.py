"""Rate and concurrency limits on each store, in this process: what a held job looks
like, the store's clock, and bad input (docs/limits.md)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.errors import ConfigError, LimitKeyError
from jobq.jobjson import job_json, stats_overview
from tests.backends.support import claim, finish
from tests.waiting import wait_for
from tests.worker.harness import worker_thread


def _jobs(app: jobq.App, task: str) -> list[jobq.Job]:
    return app.jobs(task=task, limit=1000)


def test_a_key_over_its_rate_waits_without_holding_up_other_work(app: jobq.App) -> None:
    # Key A may start once a minute; key B has no limit. A's jobs come first in the queue.
    calls = app.task(name="calls", rate_limit="1/m", limit_key=lambda key, n: key)(
        lambda key, n: n)
    plain = app.task(name="plain")(lambda n: n)
    app.enqueue_many([calls.with_options(priority=5).call("A", n) for n in range(5)])
    app.enqueue_many([plain.call(n) for n in range(20)])
    with worker_thread(app, concurrency=4):
        wait_for(lambda: all(j.status is Status.SUCCEEDED for j in _jobs(app, "plain")),
                 what="the unlimited jobs to finish")
    statuses = sorted(j.record.status.value for j in _jobs(app, "calls"))
    assert statuses == ["scheduled"] * 4 + ["succeeded"]
    for job in _jobs(app, "calls"):
        record = job.record
        assert record.limit_key == "A"
        assert job_json(record)["limit_key"] == "A"
        if record.status is Status.SCHEDULED:  # held: no attempt used, no error
            assert (record.attempts, record.error) == (0, None)
            assert record.limit_held_since is not None
            assert record.run_at > record.limit_held_since
    assert stats_overview(app)["waiting_on_limits"] == 4


def test_held_jobs_use_no_attempt_and_never_fail(app: jobq.App) -> None:
    # No retries: a limit that failed a job or used its attempt would show here.
    fast = app.task(name="fast", rate_limit="20/s", concurrency_limit=1)(lambda n: n)
    jobs = app.enqueue_many([fast.call(n) for n in range(8)])
    with worker_thread(app, concurrency=4):
        wait_for(lambda: all(j.refresh().status is Status.SUCCEEDED for j in jobs),
                 what="every limited job to succeed")
    assert [(j.record.attempts, j.record.limit_held_since) for j in jobs] == [(1, None)] * 8
    assert stats_overview(app)["waiting_on_limits"] == 0


def test_limits_are_decided_on_the_stores_clock(app: jobq.App,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    task = app.task(name="minutely", rate_limit="1/m")(lambda: None)
    for _ in range(3):
        task.enqueue()
    assert len(claim(app)) == 1
    # A claimer whose clock runs a minute ahead: the minute has not passed for the store.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    assert claim(app) == []
    monkeypatch.undo()
    assert claim(app) == []
    assert [j.attempts for j in _jobs(app, "minutely")].count(0) == 2


def test_concurrency_counts_running_jobs_and_frees_when_they_end(app: jobq.App) -> None:
    task = app.task(name="pair", concurrency_limit=2, limit_key=lambda key: key)(lambda key: key)
    for key in ("a", "a", "a", "b"):
        task.enqueue(key)
    first = claim(app)
    assert sorted(c.args for c in first) == ['["a"]', '["a"]', '["b"]']
    done = next(c for c in first if c.args == '["a"]')
    assert finish(app, done, Status.SUCCEEDED, result="null")
    # The held job waits its short recheck, then takes the freed slot.
    again = wait_for(lambda: claim(app), what="the freed slot to be taken")
    assert [c.args for c in again] == ['["a"]']


def test_with_options_sets_and_rekeys_limits(app: jobq.App) -> None:
    task = app.task(name="opt")(lambda n: n)
    one = task.with_options(concurrency_limit=1, limit_key="k").enqueue(1)
    two = task.with_options(concurrency_limit=1, limit_key="k").enqueue(2)
    free = task.enqueue(3)
    assert one.record.limit_key == "k" and free.record.limit_key is None
    claimed = {c.id for c in claim(app)}
    assert claimed == {one.id, free.id}
    assert two.refresh().status is Status.SCHEDULED
    keyed = app.task(name="keyed", rate_limit="5/s", limit_key=lambda n: f"n{n}")(lambda n: n)
    assert keyed.with_options(limit_key="other").enqueue(1).record.limit_key == "other"
    assert keyed.enqueue(2).record.limit_key == "n2"


@pytest.mark.parametrize(("options", "message"), [
    ({"rate_limit": "10/x"}, 'did you mean "10/s"'),
    ({"rate_limit": "10/mn"}, 'did you mean "10/m"'),
    ({"rate_limit": "0/s"}, "admits nothing"),
    ({"rate_limit": "ten/s"}, '"10/s", "100/m" or "1000/h"'),
    ({"rate_limit": 10}, "must be a string"),
    ({"concurrency_limit": 0}, "concurrency_limit must be a whole number ≥ 1"),
    ({"concurrency_limit": 1.5}, "concurrency_limit must be a whole number ≥ 1"),
    ({"rate_limit": "1/s", "rate_burst": 0}, "rate_burst must be a whole number ≥ 1"),
    ({"rate_burst": 3}, "rate_burst= needs a rate_limit="),
    ({"limit_key": lambda: "k"}, "limit_key= needs rate_limit= or concurrency_limit="),
    ({"rate_limit": "1/s", "limit_key": 5}, "limit_key must be a function"),
    ({"rate_limt": "1/s"}, "did you mean 'rate_limit'"),
])
def test_bad_limits_are_refused_when_the_task_is_defined(
        sqlite_url: str, options: dict[str, Any], message: str) -> None:
    app = jobq.App(sqlite_url)
    with pytest.raises(ConfigError, match=message):
        app.task(**options)(lambda: None)
    app.close()


@pytest.mark.parametrize("options", [{"rate_limit": "10/x"}, {"concurrency_limit": 0},
                                     {"rate_burst": 0}, {"limit_key": 3}])
def test_bad_limits_are_refused_by_with_options(sqlite_url: str,
                                                options: dict[str, Any]) -> None:
    app = jobq.App(sqlite_url)
    with pytest.raises(ConfigError):
        app.task(name="t")(lambda: None).with_options(**options)
    app.close()


def _broken(account: int) -> str:
    if account == 3:
        raise KeyError("no such account")
    return f"acct:{account}"


def test_a_key_function_that_fails_stores_nothing(app: jobq.App) -> None:
    sync = app.task(name="sync", concurrency_limit=1, limit_key=_broken)(lambda account: None)
    odd = app.task(name="odd", concurrency_limit=1, limit_key=lambda n: n)(lambda n: None)
    with pytest.raises(LimitKeyError, match="limit_key function of sync raised KeyError"):
        sync.enqueue(3)
    with pytest.raises(LimitKeyError, match="limit_key function of odd returned 7"):
        odd.enqueue(7)
    with pytest.raises(LimitKeyError, match="sync"):
        app.enqueue_many([sync.call(n) for n in range(1, 6)])
    with pytest.raises(LimitKeyError, match="odd"):
        jobq.group(sync.call(1), odd.call(2)).enqueue()
    assert app.stats() == {}
    assert sync.enqueue(1).record.limit_key == "acct:1"


def test_a_periodic_task_calls_its_key_function_with_no_arguments_when_defined(
    sqlite_url: str,
) -> None:
    app = jobq.App(sqlite_url)
    nightly = app.periodic(every=60, concurrency_limit=1, limit_key=lambda: "reports",
                           name="nightly")(_noop)
    assert app.periodic_tasks["nightly"].limits() == ("reports", 1, None, 1)
    assert nightly.enqueue().record.limit_key == "reports"  # a run by hand shares the key
    with pytest.raises(ConfigError, match=r"called with no arguments .* raised TypeError"):
        app.periodic(every=60, concurrency_limit=1, limit_key=lambda account: account,
                     name="per_account")(_noop)
    with pytest.raises(ConfigError, match="returned 7"):
        app.periodic(every=60, rate_limit="1/s", limit_key=lambda: 7, name="odd")(_noop)
    with pytest.raises(ConfigError, match="rate_limit='1/x'"):
        app.periodic(every=60, rate_limit="1/x")(_noop)
    app.close()


def _noop() -> None:
    pass


def test_a_claim_that_looks_further_still_counts_what_it_admitted(app: jobq.App) -> None:
    # Claims of two: the second a is held, the claim looks further, meets the third a
    # (which the first one, admitted in the same claim, still holds back) and then b.
    task = app.task(name="solo", concurrency_limit=1, limit_key=lambda key: key)(lambda key: key)
    for key in ("a", "a", "a", "b"):
        task.enqueue(key)
    assert sorted(c.args for c in claim(app, limit=2)) == ['["a"]', '["b"]']
    assert claim(app, limit=2) == []
