"""Compiling workflows into jobs and what each waits for, and the first argument a
released job gets; no store involved."""

from __future__ import annotations

from typing import Any

import pytest

import jobq
from jobq import ConfigError
from jobq.backends.deps import failure_message, with_results
from jobq.workflow import Planned, compile_workflow


@pytest.fixture
def t() -> Any:
    app = jobq.App("sqlite:///unused-by-these-tests.db")
    return app.task(name="t")(lambda *args: args)


def _by_call(jobs: list[Planned]) -> dict[int, Planned]:
    return {id(p.call): p for p in jobs}


def test_a_chord_waits_for_its_members_in_order(t: Any) -> None:
    members = [t.call(i) for i in range(4)]
    callback = t.call()
    plan = compile_workflow(jobq.chord(jobq.group(*members), callback))
    assert [p.call for p in plan.jobs] == [*members, callback]
    last = plan.jobs[-1]
    assert last.deps == members and last.shape == [0, 1, 2, 3]
    assert all(p.deps == [] and p.shape is None for p in plan.jobs[:-1])
    assert plan.output is callback


def test_nested_groups_give_nested_shapes_and_chains_their_last_step(t: Any) -> None:
    a, b, c, d, e, cb = (t.call(n) for n in range(6))
    plan = compile_workflow(jobq.chord(jobq.group(jobq.chain(a, b), jobq.group(c, d), e), cb))
    found = _by_call(plan.jobs)
    assert found[id(b)].deps == [a] and found[id(b)].shape == 0
    assert found[id(cb)].deps == [b, c, d, e]
    assert found[id(cb)].shape == [0, [1, 2], 3]


def test_an_empty_group_keeps_the_chain_waiting_for_the_step_before(t: Any) -> None:
    a, b = t.call(1), t.call(2)
    plan = compile_workflow(jobq.chain(a, jobq.group(), b))
    assert _by_call(plan.jobs)[id(b)].deps == [a]
    assert _by_call(plan.jobs)[id(b)].shape == []


def test_jobs_come_after_what_they_wait_for(t: Any) -> None:
    a, b, c = t.call(1), t.call(2), t.call(3)
    plan = compile_workflow(jobq.group(jobq.chain(c, b), jobq.chain(a, c)))
    order = [p.call for p in plan.jobs]
    assert order.index(a) < order.index(c) < order.index(b)


def test_a_long_chain_compiles_without_recursion(t: Any) -> None:
    steps = [t.call(i) for i in range(5_000)]
    plan = compile_workflow(jobq.chain(*steps))
    assert [p.call for p in plan.jobs] == steps


def test_cycles_name_their_tasks(t: Any) -> None:
    a, b = t.call(1), t.call(2)
    with pytest.raises(ConfigError, match=r"cycle \(among the calls of t\)"):
        compile_workflow(jobq.chain(a, b, a))


def test_results_go_in_front_of_the_arguments_as_text() -> None:
    assert with_results("[]", "0", {0: "5"}) == "[5]"
    assert with_results("[1,{\"k\":2}]", "0", {0: "1.0000000000000002"}) == (
        "[1.0000000000000002,1,{\"k\":2}]")
    assert with_results("[]", "[1,[0]]", {0: '"a"', 1: "null"}) == '[[null,["a"]]]'
    assert with_results("[ ]", "[]", {}) == "[[]]"
    assert with_results("[7]", "0", {}) == "[null,7]"


def test_failure_messages_name_the_dependency_and_the_root() -> None:
    root = ("r1", "fetch", "failed", "ValueError", "bad")
    assert failure_message("r1", "fetch", root) == "dependency r1 (fetch) failed: ValueError: bad"
    assert failure_message("d2", "resize", root) == (
        "dependency d2 (resize) failed because job r1 (fetch) failed: ValueError: bad")
    cancelled = ("r1", "fetch", "cancelled", None, None)
    assert failure_message("r1", "fetch", cancelled) == "dependency r1 (fetch) was cancelled"
    assert failure_message("r1", "fetch", ("r1", "fetch", "failed", "WorkerLost", "")) == (
        "dependency r1 (fetch) failed: WorkerLost")
