"""Contract: workflows (chain, group, chord, depends_on) on every store."""

from __future__ import annotations

from typing import Any

import pytest

import jobq
from jobq import ConfigError, DependencyFailed, JobFailed, Status
from jobq.errors import JobNotFound
from tests.backends.support import claim, claim_one, fail, finish, snapshot


@pytest.fixture
def tasks(app: jobq.App) -> dict[str, Any]:
    @app.task(name="add")
    def add(x: int, y: int = 1) -> int:
        return x + y

    @app.task(name="times")
    def times(x: int, factor: int = 10) -> int:
        return x * factor

    @app.task(name="collect")
    def collect(values: list[Any], *extra: Any) -> list[Any]:
        return [values, *extra]

    @app.task(name="total")
    def total(values: list[int]) -> int:
        return sum(values)

    @app.task(name="again", retries=2)
    def again(x: int) -> int:
        return x

    @app.task(name="boom")
    def boom(*_: Any) -> None:
        raise ValueError("boom")

    return {"add": add, "times": times, "collect": collect, "total": total, "boom": boom,
            "again": again}


def _statuses(jobs: list[jobq.Job]) -> list[Status]:
    return [job.refresh().status for job in jobs]


# -- 1. a chain passes each result on ---------------------------------------------------


def test_chain_passes_each_result_as_the_first_argument(app: jobq.App,
                                                        tasks: dict[str, Any]) -> None:
    add, times = tasks["add"], tasks["times"]
    flow = jobq.chain(add.call(1), times.call(), add.call(y=5))
    handle = flow.enqueue()
    assert _statuses(handle.jobs) == [Status.PENDING, Status.BLOCKED, Status.BLOCKED]
    assert [j.task for j in handle.jobs] == ["add", "times", "add"]
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=10) == (1 + 1) * 10 + 5
    _, b, c = handle.jobs
    assert b.refresh().record.args == [2]  # a's result, put in front of its own (none)
    assert c.refresh().record.args == [20] and c.record.kwargs == {"y": 5}
    assert handle.status is Status.SUCCEEDED


def test_a_chain_step_keeps_its_own_arguments_after_the_result(app: jobq.App,
                                                               tasks: dict[str, Any]) -> None:
    handle = jobq.chain(tasks["add"].call(1), tasks["collect"].call("x", 3)).enqueue()
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == [2, "x", 3]


# -- chords and groups ---------------------------------------------------------------------


def test_chord_gets_the_group_results_in_the_group_order(app: jobq.App,
                                                         tasks: dict[str, Any]) -> None:
    add, collect = tasks["add"], tasks["collect"]
    handle = jobq.chord(jobq.group(add.call(i) for i in range(20)), collect.call()).enqueue()
    assert len(handle.jobs) == 21
    callback = handle.jobs[-1]
    assert callback.status is Status.BLOCKED
    # Finish the members in reverse order: the results still come in the group's order.
    claimed = {c.id: c for c in claim(app, limit=50)}
    assert callback.id not in claimed
    for member in reversed(handle.jobs[:-1]):
        assert finish(app, claimed[member.id], Status.SUCCEEDED,
                      result=str(member.record.args[0] + 1))
    assert callback.refresh().status is Status.PENDING
    assert callback.record.args == [list(range(1, 21))]
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == [list(range(1, 21))]


def test_a_group_result_is_the_list_of_results(app: jobq.App, tasks: dict[str, Any]) -> None:
    handle = jobq.group(tasks["add"].call(1), tasks["times"].call(2)).enqueue()
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=10) == [2, 20]


# -- 6. edge shapes --------------------------------------------------------------------------


def test_an_empty_group_stores_nothing_and_its_result_is_empty(app: jobq.App) -> None:
    handle = jobq.group().enqueue()
    assert handle.jobs == []
    assert handle.result(timeout=1) == []
    assert snapshot(app) == {}


def test_a_chord_of_an_empty_group_calls_back_at_once_with_an_empty_list(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    handle = jobq.chord(jobq.group(), tasks["collect"].call()).enqueue()
    (callback,) = handle.jobs
    assert callback.status is Status.PENDING
    assert callback.record.args == [[]]
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == [[]]


def test_a_one_task_chord(app: jobq.App, tasks: dict[str, Any]) -> None:
    handle = jobq.chord(jobq.group(tasks["add"].call(1)), tasks["total"].call()).enqueue()
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == 2


def test_a_chain_nested_in_a_chord_header(app: jobq.App, tasks: dict[str, Any]) -> None:
    add, times, collect = tasks["add"], tasks["times"], tasks["collect"]
    header = jobq.group(jobq.chain(add.call(1), times.call()), add.call(5),
                        jobq.group(add.call(7), times.call(3)))
    handle = jobq.chord(header, collect.call()).enqueue()
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=10) == [[20, 6, [8, 30]]]


def test_a_group_after_a_chain_step_gets_its_result_in_each_member(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    add, times = tasks["add"], tasks["times"]
    handle = jobq.chain(add.call(1), jobq.group(add.call(), times.call())).enqueue()
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=10) == [3, 20]


def test_an_empty_group_in_a_chain_still_waits_for_the_step_before(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    handle = jobq.chain(tasks["add"].call(1), jobq.group(), tasks["collect"].call()).enqueue()
    first, last = handle.jobs
    assert last.status is Status.BLOCKED
    assert app.backend.links(last.id).dependencies == (first.id,)
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == [[]]


def test_one_call_used_twice_is_one_job(app: jobq.App, tasks: dict[str, Any]) -> None:
    shared = tasks["add"].call(1)
    handle = jobq.group(jobq.chain(shared, tasks["times"].call()),
                        jobq.chain(shared, tasks["add"].call())).enqueue()
    assert len(handle.jobs) == 3
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=10) == [20, 3]


# -- depends_on -------------------------------------------------------------------------------


def test_depends_on_blocks_until_every_dependency_succeeded(app: jobq.App,
                                                            tasks: dict[str, Any]) -> None:
    add = tasks["add"]
    a, b = add.enqueue(1), add.enqueue(2)
    waiter = add.with_options(depends_on=[a, b.id]).enqueue(10)
    assert waiter.status is Status.BLOCKED
    assert app.jobs(status="blocked") == [waiter]
    links = app.backend.links(waiter.id)
    assert links.dependencies == (a.id, b.id)
    assert app.backend.links(a.id).dependents == (waiter.id,)
    first = claim_one(app)
    assert finish(app, first, Status.SUCCEEDED, result="2")
    assert waiter.refresh().status is Status.BLOCKED
    second = claim_one(app)
    assert finish(app, second, Status.SUCCEEDED, result="3")
    assert waiter.refresh().status is Status.PENDING
    assert waiter.record.args == [10]  # depends_on passes no result


def test_a_dependency_that_already_succeeded_is_met(app: jobq.App,
                                                    tasks: dict[str, Any]) -> None:
    a = tasks["add"].enqueue(1)
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="2")
    waiter = tasks["add"].with_options(depends_on=a).enqueue(5)
    assert waiter.status is Status.PENDING
    assert waiter.refresh().status is Status.PENDING


def test_a_released_job_with_a_delay_still_waits_for_its_time(app: jobq.App,
                                                             tasks: dict[str, Any]) -> None:
    a = tasks["add"].enqueue(1)
    waiter = tasks["add"].with_options(depends_on=[a], delay=3600).enqueue(5)
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="2")
    assert waiter.refresh().status is Status.SCHEDULED
    assert claim(app) == []


# -- 4. failures cascade, and a retry brings them back --------------------------------------


def test_a_failure_fails_what_waits_for_it_and_a_retry_brings_it_back(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    add = tasks["add"]
    a = add.enqueue(1)
    b = add.with_options(depends_on=[a]).enqueue(2)
    c = add.with_options(depends_on=[b.id]).enqueue(3)
    assert fail(app, claim_one(app), "disk on fire")

    for job, dep in ((b, a), (c, b)):
        record = job.refresh().record
        assert record.status is Status.FAILED
        assert record.error is not None and record.error.type == "DependencyFailed"
        assert f"dependency {dep.id} (add)" in record.error.message
        assert record.error.traceback.startswith("Traceback")  # the root cause's
    assert b.record.error is not None
    assert b.record.error.message == f"dependency {a.id} (add) failed: ValueError: disk on fire"
    with pytest.raises(JobFailed) as failed:
        c.result(timeout=5)
    assert a.id in str(failed.value) and "disk on fire" in str(failed.value)
    assert failed.value.error_type == "DependencyFailed"

    assert app.retry(a.id).status is Status.PENDING
    assert _statuses([a, b, c]) == [Status.PENDING, Status.BLOCKED, Status.BLOCKED]
    assert c.record.error is None and c.record.finished_at is None
    app.run_worker(concurrency=2, burst=True)
    assert [j.result(timeout=10) for j in (a, b, c)] == [2, 3, 4]


def test_a_chord_member_failure_fails_the_callback_once(app: jobq.App,
                                                        tasks: dict[str, Any]) -> None:
    add, boom, total = tasks["add"], tasks["boom"], tasks["total"]
    handle = jobq.chord(jobq.group(add.call(1), boom.call(), add.call(3)), total.call()).enqueue()
    app.run_worker(concurrency=2, burst=True)
    callback = handle.jobs[-1].refresh()
    assert callback.status is Status.FAILED
    assert callback.error is not None and callback.error.type == "DependencyFailed"
    member = handle.jobs[1]
    assert member.id in callback.error.message and "ValueError: boom" in callback.error.message
    with pytest.raises(JobFailed, match=member.id):
        handle.result(timeout=5)
    assert handle.status is Status.FAILED


def test_retrying_a_failed_member_lets_the_chord_finish(app: jobq.App,
                                                        tasks: dict[str, Any]) -> None:
    add, total = tasks["add"], tasks["total"]
    handle = jobq.chord(jobq.group(add.call(i) for i in range(4)), total.call()).enqueue()
    claimed = {c.id: c for c in claim(app, limit=10)}
    members = handle.jobs[:-1]
    assert fail(app, claimed[members[0].id])
    for member in members[1:]:
        assert finish(app, claimed[member.id], Status.SUCCEEDED,
                      result=str(member.record.args[0] + 1))
    assert handle.jobs[-1].refresh().status is Status.FAILED
    app.retry(members[0].id)
    assert handle.jobs[-1].refresh().status is Status.BLOCKED
    app.run_worker(concurrency=1, burst=True)
    assert handle.result(timeout=10) == 1 + 2 + 3 + 4


def test_cancelling_a_dependency_fails_its_waiters(app: jobq.App, tasks: dict[str, Any]) -> None:
    a = tasks["add"].enqueue(1)
    b = tasks["add"].with_options(depends_on=[a]).enqueue(2)
    a.cancel()
    record = b.refresh().record
    assert record.status is Status.FAILED and record.error is not None
    assert record.error.message == f"dependency {a.id} (add) was cancelled"
    app.retry(a.id)
    assert _statuses([a, b]) == [Status.PENDING, Status.BLOCKED]


def test_cancelling_a_blocked_job_cancels_it_and_fails_what_waits_for_it(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    a = tasks["add"].enqueue(1)
    b = tasks["add"].with_options(depends_on=[a]).enqueue(2)
    c = tasks["add"].with_options(depends_on=[b]).enqueue(3)
    assert b.cancel()
    assert _statuses([a, b, c]) == [Status.PENDING, Status.CANCELLED, Status.FAILED]
    assert finish(app, claim_one(app), Status.SUCCEEDED, result="2")
    assert _statuses([b, c]) == [Status.CANCELLED, Status.FAILED]
    app.retry(b.id)  # its dependency succeeded meanwhile: it runs at once, with c behind it
    assert _statuses([b, c]) == [Status.PENDING, Status.BLOCKED]


def test_a_job_reaped_out_of_attempts_fails_what_waits_for_it(app: jobq.App,
                                                               tasks: dict[str, Any]) -> None:
    a = tasks["add"].enqueue(1)
    b = tasks["add"].with_options(depends_on=[a]).enqueue(2)
    for _ in range(10):  # lost leases until the reaper gives up on it
        claim_one(app, lease=1.0)
        reaped = app.backend.reap(now=a.refresh().record.lease_expires_at.timestamp() + 60)
        assert [r.id for r in reaped] == [a.id]
        if reaped[0].status is Status.FAILED:
            break
        assert b.refresh().status is Status.BLOCKED
    record = b.refresh().record
    assert record.status is Status.FAILED and record.error is not None
    assert record.error.message.startswith(f"dependency {a.id} (add) failed: WorkerLost: ")


def test_retrying_a_job_failed_by_its_dependency_is_refused_while_that_is_failed(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    a = tasks["add"].enqueue(1)
    b = tasks["add"].with_options(depends_on=[a]).enqueue(2)
    assert fail(app, claim_one(app))
    before = snapshot(app)
    with pytest.raises(DependencyFailed, match=f"retry {a.id} instead"):
        app.retry(b.id)
    assert snapshot(app) == before


def test_a_duplicate_finish_releases_the_waiters_once(app: jobq.App,
                                                      tasks: dict[str, Any]) -> None:
    again, total = tasks["again"], tasks["total"]
    handle = jobq.chord(jobq.group(again.call(1), again.call(2)), total.call()).enqueue()
    one, two = handle.jobs[:2]
    stale = {c.id: c for c in claim(app, limit=2, lease=1.0)}
    expired = max(j.refresh().record.lease_expires_at.timestamp() for j in (one, two)) + 60
    app.backend.reap(now=expired)  # both go back to pending; their first tokens are stale
    # A claim takes one job that lost a lease at a time (the delivery rules): two claims.
    fresh = {c.id: c for _ in range(2) for c in claim(app, limit=2)}
    assert fresh.keys() == {one.id, two.id}
    assert finish(app, fresh[one.id], Status.SUCCEEDED, result="10")
    assert not finish(app, stale[one.id], Status.SUCCEEDED, result="10")
    assert handle.jobs[-1].refresh().status is Status.BLOCKED  # two has not finished
    assert finish(app, fresh[two.id], Status.SUCCEEDED, result="20")
    assert not finish(app, stale[two.id], Status.SUCCEEDED, result="20")
    callback = handle.jobs[-1].refresh()
    assert callback.status is Status.PENDING and callback.record.args == [[10, 20]]
    assert [c.id for c in claim(app)] == [callback.id]


# -- purging and retention --------------------------------------------------------------------


def test_a_chord_keeps_its_results_when_finished_members_are_purged(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    add, collect = tasks["add"], tasks["collect"]
    handle = jobq.chord(jobq.group(add.call(1), add.call(2), add.call(3)), collect.call()).enqueue()
    claimed = {c.id: c for c in claim(app, limit=10)}
    members = handle.jobs[:-1]
    for member in members[:2]:
        assert finish(app, claimed[member.id], Status.SUCCEEDED,
                      result=str(member.record.args[0] * 100))
    assert app.purge(older_than=0) == 2
    assert finish(app, claimed[members[2].id], Status.SUCCEEDED, result="300")
    callback = handle.jobs[-1].refresh()
    assert callback.status is Status.PENDING and callback.record.args == [[100, 200, 300]]


# -- 7. bad input ------------------------------------------------------------------------------


def test_an_unknown_dependency_id_stores_nothing(app: jobq.App, tasks: dict[str, Any]) -> None:
    existing = tasks["add"].enqueue(1)
    before = snapshot(app)
    with pytest.raises(JobNotFound, match="no job with id 'nope' to depend on"):
        tasks["add"].with_options(depends_on=[existing, "nope"]).enqueue(2)
    with pytest.raises(JobNotFound, match="'nope'"):
        step = tasks["add"].with_options(depends_on="nope").call(3)
        jobq.chain(tasks["add"].call(1), step).enqueue()
    assert snapshot(app) == before


def test_a_failed_or_cancelled_dependency_is_refused(app: jobq.App,
                                                     tasks: dict[str, Any]) -> None:
    failed, cancelled = tasks["add"].enqueue(1), tasks["add"].enqueue(2)
    assert fail(app, claim_one(app), "nope")
    cancelled.cancel()
    before = snapshot(app)
    with pytest.raises(DependencyFailed, match=rf"job {failed.id} \(add\).*has failed|failed"):
        tasks["add"].with_options(depends_on=[failed]).enqueue(3)
    with pytest.raises(DependencyFailed, match=f"job {cancelled.id} .*was cancelled"):
        tasks["add"].with_options(depends_on=[cancelled]).enqueue(3)
    assert snapshot(app) == before


def test_a_self_dependency_and_a_cycle_are_refused_before_storing(
    app: jobq.App, tasks: dict[str, Any],
) -> None:
    add, times = tasks["add"], tasks["times"]
    before = snapshot(app)
    step = add.call(1)
    with pytest.raises(ConfigError, match="cannot wait for itself"):
        jobq.chain(step, step).enqueue()
    pair = jobq.chain(add.call(1), times.call())
    with pytest.raises(ConfigError, match="cycle"):
        jobq.chain(pair, pair).enqueue()
    first = add.call(2)
    with pytest.raises(ConfigError, match=r"cycle \(among the calls of add, times\)"):
        jobq.chain(first, times.call(), first).enqueue()
    assert snapshot(app) == before


def test_bad_workflow_input_is_refused(app: jobq.App, tasks: dict[str, Any]) -> None:
    add = tasks["add"]
    with pytest.raises(ConfigError, match=r"task\.call"):
        jobq.chain(add.call(1), add)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least one step"):
        jobq.chain()
    with pytest.raises(ConfigError, match="depends_on= takes jobs"):
        add.with_options(depends_on=[3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="key="):
        jobq.chain(add.with_options(key="k").call(1), add.call()).enqueue()
    with pytest.raises(ConfigError, match="key="):
        add.with_options(depends_on=["x"], key="k")
    with pytest.raises(ConfigError, match="enqueue_many does not take depends_on="):
        app.enqueue_many([add.with_options(depends_on=["x"]).call(1)])
    with pytest.raises(ConfigError, match="two different steps"):
        shared = add.call(1)
        jobq.group(jobq.chain(add.call(2), shared), jobq.chain(add.call(3), shared)).enqueue()
    with pytest.raises(ConfigError, match="one App"):
        other = jobq.App(app.settings.url)
        jobq.chain(add.call(1), other.task(name="add")(lambda x: x).call()).enqueue()
    assert snapshot(app) == {}
