"""What the stores share about dependencies: the decision made at enqueue, the first
argument made of dependency results, and the words of ``DependencyFailed``.

Redis makes the same decisions in Lua (``redis/lua/lib_workflow.lua``) and PostgreSQL
makes the resolution ones in SQL functions; the messages are written alike in each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jobq.backends.base import NewJob, Waits
from jobq.errors import DependencyFailed, JobNotFound, JobqError
from jobq.job import Status

LIVE = frozenset({"blocked", "scheduled", "pending", "running"})


class DepState(NamedTuple):
    """What a store knows of a dependency that is not part of the batch being stored."""

    status: str
    task: str
    result: str | None = None
    error_type: str | None = None
    error_message: str | None = None


def external_ids(jobs: Sequence[NewJob], waits: Sequence[Waits]) -> list[str]:
    """The dependency ids that are not jobs of this batch, in order, each once."""
    new = {j.id for j in jobs}
    return list(dict.fromkeys(d for w in waits for d in w.deps if d not in new))


def _ending(status: str, etype: str | None, emessage: str | None) -> str:
    if status == Status.CANCELLED.value:
        return "was cancelled"
    return f"failed: {etype or 'Error'}" + (f": {emessage}" if emessage else "")


def failure_message(dep_id: str, dep_task: str, root: tuple[str, str, str, str | None,
                                                            str | None]) -> str:
    """The message of a job failed because ``dep_id`` failed; ``root`` (id, task, status,
    error type, error message) is the job whose failure started the cascade."""
    root_id, root_task, status, etype, emessage = root
    if root_id == dep_id:
        return f"dependency {dep_id} ({dep_task}) {_ending(status, etype, emessage)}"
    return (f"dependency {dep_id} ({dep_task}) failed because job {root_id} ({root_task}) "
            f"{_ending(status, etype, emessage)}")


def refusal(dep_id: str, state: DepState | None, waiting: str | None = None) -> JobqError:
    """Why a job cannot wait for ``dep_id`` (at enqueue, or at the retry of ``waiting``)."""
    if state is None:
        if waiting is None:
            return JobNotFound(f"no job with id {dep_id!r} to depend on (a typo, or deleted "
                               "by retention or purge); nothing was enqueued")
        return DependencyFailed(
            f"job {waiting} cannot run again: it waits for job {dep_id}, which is no longer "
            "in the store (deleted by retention or purge); nothing changed", dep_id)
    ending = _ending(state.status, state.error_type, state.error_message)
    if waiting is None:
        return DependencyFailed(
            f"job {dep_id} ({state.task}), a dependency of the new job, {ending}; nothing was "
            f"enqueued. Retry it first (`jobq retry {dep_id}`) or leave it out", dep_id)
    return DependencyFailed(
        f"job {waiting} cannot run again yet: it waits for job {dep_id} ({state.task}), "
        f"which {ending}; retry {dep_id} instead (`jobq retry {dep_id}`), which brings "
        f"{waiting} back; nothing changed", dep_id)


def check_dependencies(ids: Sequence[str], found: Mapping[str, DepState]) -> None:
    """Raise for the first dependency that is missing, failed or cancelled."""
    for dep_id in ids:
        state = found.get(dep_id)
        if state is None or state.status in ("failed", "cancelled"):
            raise refusal(dep_id, state)


def _first_argument(shape: Any, results: Mapping[int, str | None]) -> str:
    if isinstance(shape, int):
        value = results.get(shape)
        return "null" if value is None else value
    return "[" + ",".join(_first_argument(s, results) for s in shape) + "]"


def with_results(args: str, shape: str, results: Mapping[int, str | None]) -> str:
    """``args`` (a JSON list) with the results of the dependencies put in front as
    ``shape`` says. JSON text is joined as text: results come through byte for byte."""
    value = _first_argument(json.loads(shape), results)
    rest = args.strip()[1:].lstrip()
    return "[" + value + ("]" if rest.startswith("]") else "," + rest)


@dataclass
class Decision:
    """What a SQL store writes for a batch of jobs with dependencies."""

    jobs: list[NewJob] = field(default_factory=list)
    # (job id, position, dependency id, met, the dependency's result when met)
    edges: list[tuple[str, int, str, bool, str | None]] = field(default_factory=list)
    # (job id, open dependencies, shape): one per job that starts blocked
    waits: list[tuple[str, int, str | None]] = field(default_factory=list)


def decide(jobs: Sequence[NewJob], waits: Sequence[Waits],
           found: Mapping[str, DepState]) -> Decision:
    """Each job blocked, or (all it waits for succeeded) ready with those results in its
    arguments; ``found`` holds the dependencies outside the batch, already checked."""
    by_job = {w.job_id: w for w in waits}
    out = Decision()
    for job in jobs:
        wait = by_job.get(job.id)
        if wait is None:
            out.jobs.append(job)
            continue
        results: dict[int, str | None] = {}
        open_ = 0
        for position, dep_id in enumerate(wait.deps):
            state = found.get(dep_id)
            met = state is not None and state.status == "succeeded"
            result = state.result if state is not None and met else None
            if met:
                results[position] = result
            else:
                open_ += 1
            out.edges.append((job.id, position, dep_id, met, result))
        if open_:
            out.jobs.append(job._replace(status=Status.BLOCKED))
            out.waits.append((job.id, open_, wait.shape))
        elif wait.shape is not None:
            out.jobs.append(job._replace(args=with_results(job.args, wait.shape, results)))
        else:
            out.jobs.append(job)
    return out
