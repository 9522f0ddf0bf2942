"""Workflows: ``chain``, ``group`` and ``chord`` built from task calls, and the handle
that waits for one.

A workflow is compiled into jobs and the jobs each waits for before it is stored; the
store then stores it whole (one transaction, one Lua script) and resolves it itself:
each success releases the jobs waiting for it, each failure fails them. A ``Call``
object is one job wherever it appears, so the same call used twice in a workflow runs
once, and a call placed after itself is refused as a cycle.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from jobq.errors import ConfigError
from jobq.job import Job, Status
from jobq.task import Call

if TYPE_CHECKING:
    from jobq.app import App

Step: TypeAlias = "Call | Chain | Group"
# Where results come from: one job, or a (nested) list of them.
Output: TypeAlias = "Call | list[Output]"


class Workflow:
    """A chain or group of task calls; ``enqueue()`` stores all of its jobs at once."""

    def enqueue(self) -> WorkflowHandle:
        """Store every job of the workflow, all or none, and return its handle."""
        plan = compile_workflow(self)
        if not plan.jobs:  # empty groups only: nothing to store, the result is known
            return WorkflowHandle([], plan.output)
        return plan.app()._enqueue_planned(plan)


@dataclass(frozen=True, eq=False)
class Chain(Workflow):
    """Steps run one after another; each step gets the previous one's result as its first
    argument (a group's results as a list)."""

    steps: tuple[Step, ...]

    def __repr__(self) -> str:
        return f"chain({', '.join(map(_describe, self.steps))})"


@dataclass(frozen=True, eq=False)
class Group(Workflow):
    """Members run side by side; the group's result is the list of theirs, in order."""

    members: tuple[Step, ...]

    def __repr__(self) -> str:
        return f"group({', '.join(map(_describe, self.members))})"


def _steps(kind: str, items: tuple[Any, ...]) -> tuple[Step, ...]:
    if len(items) == 1 and not isinstance(items[0], Call | Workflow):
        with contextlib.suppress(TypeError):  # one iterable: group(t.call(i) for i in …)
            items = tuple(items[0])
    for item in items:
        if not isinstance(item, Call | Workflow):
            raise ConfigError(
                f"{kind}() takes task.call(...) values, chains and groups, got {item!r}; "
                "write task.call(args) rather than task(args) or task.enqueue(args)"
            )
    return items


def chain(*steps: Step) -> Chain:
    """``chain(a.call(1), b.call(), c.call())``: b gets a's result as its first argument,
    c gets b's; ``.result()`` of the handle is c's result."""
    found = _steps("chain", steps)
    if not found:
        raise ConfigError("chain() needs at least one step")
    return Chain(found)


def group(*members: Step | Iterable[Step]) -> Group:
    """``group(a.call(1), a.call(2))``, or ``group(calls)``: the members run side by side;
    the result is the list of their results, in order (``[]`` for an empty group)."""
    return Group(_steps("group", tuple(members)))


def chord(header: Group | Iterable[Step], callback: Step) -> Chain:
    """``chord(group(...), callback.call())``: the callback runs once, after every member
    of the group succeeded, with the list of their results (in the group's order) as its
    first argument; ``[]`` for an empty group."""
    members = header if isinstance(header, Group) else group(*_steps("chord", (header,)))
    if not isinstance(callback, Call | Workflow):
        raise ConfigError(f"chord() needs a callback such as task.call(), got {callback!r}")
    return Chain((members, callback))


def _describe(step: Step) -> str:
    return f"{step.task.name}(…)" if isinstance(step, Call) else repr(step)


# -- compiling ------------------------------------------------------------------------


@dataclass
class Planned:
    """One job of a compiled workflow: the call, what it waits for (calls of the same
    workflow, or ids of stored jobs) and how their results make its first argument."""

    call: Call
    deps: list[Call | str] = field(default_factory=list)
    shape: Any = None  # None, or an int / nested list of ints: positions in ``deps``
    placed: bool = False  # its place after an earlier step is set


@dataclass
class Plan:
    """A compiled workflow: its jobs in an order where each follows what it waits for,
    and where the handle's result comes from."""

    jobs: list[Planned]
    output: Output | None

    def app(self) -> App:
        apps = {id(p.call.task.app): p.call.task.app for p in self.jobs}
        if len(apps) > 1:
            raise ConfigError("a workflow's tasks must all belong to one App")
        return next(iter(apps.values()))


@dataclass(frozen=True)
class _After:
    """What a step starts after: the jobs to wait for and where its first argument comes
    from (None at the start of a workflow)."""

    done: tuple[Call, ...] = ()
    output: Output | None = None


class _Compiler:
    def __init__(self) -> None:
        self.planned: dict[int, Planned] = {}  # by id() of the Call: one job per object

    def step(self, step: Step, after: _After) -> tuple[Output | None, tuple[Call, ...]]:
        """Place ``step`` after ``after``; return its output and the jobs that end it."""
        if isinstance(step, Call):
            self._place(step, after)
            return step, (step,)
        if isinstance(step, Chain):
            output: Output | None = None
            for part in step.steps:
                output, done = self.step(part, after)
                after = _After(done or after.done, output)
            return output, after.done
        outputs: list[Output] = []
        ends: dict[int, Call] = {}
        for member in step.members:
            out, done = self.step(member, after)
            outputs.append(out)  # type: ignore[arg-type]  # a member always has one
            ends.update((id(c), c) for c in done)
        return outputs, tuple(ends.values())

    def _place(self, call: Call, after: _After) -> None:
        _check_call(call)
        job = self.planned.setdefault(id(call), Planned(call))
        if not after.done and after.output is None:
            return  # a start: nothing to wait for here
        deps: dict[int, tuple[int, Call]] = {}  # id() -> (position, call)
        shape = None if after.output is None else _positions(after.output, deps)
        for done in after.done:
            deps.setdefault(id(done), (len(deps), done))
        if id(call) in deps:
            raise ConfigError(
                f"a job cannot wait for itself: the call of {call.task.name} follows itself "
                "in the workflow; to run a task twice, make two calls (task.call(...) twice)"
            )
        if job.placed and ([id(d) for d in job.deps] != list(deps) or job.shape != shape):
            raise ConfigError(
                f"the call of {call.task.name} is placed after two different steps; a call is "
                "one job, so to run it in both places make two calls (task.call(...) twice)"
            )
        job.deps, job.shape, job.placed = [c for _, c in deps.values()], shape, True


def _positions(output: Output, deps: dict[int, tuple[int, Call]]) -> Any:
    """``output`` with each call replaced by its position among ``deps``."""
    if isinstance(output, Call):
        return deps.setdefault(id(output), (len(deps), output))[0]
    return [_positions(o, deps) for o in output]


def _check_call(call: Call) -> None:
    options = call.options
    if options.key is not None or options.connection is not None:
        raise ConfigError(
            f"{call.task.name}: key= and connection= are not supported inside a workflow; "
            "enqueue the workflow without them"
        )


def compile_workflow(workflow: Workflow) -> Plan:
    """The jobs of ``workflow`` in an order where each follows what it waits for.
    Raises ``ConfigError`` for a cycle, before anything is stored."""
    compiler = _Compiler()
    output, _ = compiler.step(workflow, _After())  # type: ignore[arg-type]
    jobs = list(compiler.planned.values())
    for job in jobs:  # ids given with depends_on= come after the workflow's own
        job.deps.extend(d for d in job.call.options.depends_on if d not in job.deps)
    return Plan(_ordered(jobs), output)


def _ordered(jobs: list[Planned]) -> list[Planned]:
    """Jobs in the order they were first named, each moved after what it waits for."""
    index = {id(j.call): n for n, j in enumerate(jobs)}
    waiting_on = [0] * len(jobs)
    followers: list[list[int]] = [[] for _ in jobs]
    for n, job in enumerate(jobs):
        for dep in job.deps:
            if isinstance(dep, Call):
                waiting_on[n] += 1
                followers[index[id(dep)]].append(n)
    ready = [n for n, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)
    ordered: list[Planned] = []
    while ready:
        n = heapq.heappop(ready)
        ordered.append(jobs[n])
        for follower in followers[n]:
            waiting_on[follower] -= 1
            if waiting_on[follower] == 0:
                heapq.heappush(ready, follower)
    if len(ordered) < len(jobs):
        names = ", ".join(dict.fromkeys(
            jobs[n].call.task.name for n, count in enumerate(waiting_on) if count))
        raise ConfigError(f"the workflow has a cycle (among the calls of {names}): a job "
                          "cannot wait for a job that waits for it; nothing was enqueued")
    return ordered


def shape_text(shape: Any) -> str | None:
    return None if shape is None else json.dumps(shape, separators=(",", ":"))


# -- the handle -------------------------------------------------------------------------


_ORDER = (Status.FAILED, Status.CANCELLED, Status.RUNNING, Status.PENDING, Status.SCHEDULED,
          Status.BLOCKED)


class WorkflowHandle:
    """An enqueued workflow: its ``jobs`` in order, its ``status`` and its ``result()``."""

    def __init__(self, jobs: list[Job], output: Any) -> None:
        self.jobs = jobs
        self._output = output  # a Job, or a nested list of Jobs

    def __repr__(self) -> str:
        return f"<WorkflowHandle {len(self.jobs)} jobs>"

    def refresh(self) -> WorkflowHandle:
        for job in self.jobs:
            job.refresh()
        return self

    @property
    def status(self) -> Status:
        """succeeded when every job did; else failed or cancelled if any job is; else the
        most advanced state of a job still to finish (running, pending, scheduled,
        blocked)."""
        statuses = {job.refresh().status for job in self.jobs}
        if statuses <= {Status.SUCCEEDED}:
            return Status.SUCCEEDED
        return next(s for s in _ORDER if s in statuses)

    def result(self, timeout: float | None = None, poll: float = 0.05) -> Any:
        """Wait for the workflow and return its result: a chain's last result, a group's
        list of results, a chord's callback result. Raises ``JobFailed`` naming the root
        cause when a job failed (a dependency's failure included), ``JobCancelled``, or
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        def value(output: Any) -> Any:
            if isinstance(output, Job):
                return output.result(timeout=left(), poll=poll)
            return [value(o) for o in output]

        return value(self._output)
