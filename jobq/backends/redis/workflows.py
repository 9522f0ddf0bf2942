"""Workflows on Redis: the replies of ``enqueue_workflow.lua`` and ``retry.lua`` read
back as stored jobs and refusals. The resolution itself is ``lua/lib_workflow.lua``,
called by the scripts that end a job (keys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobq.backends.base import NewJob
from jobq.backends.deps import DepState, refusal
from jobq.backends.redis.records import DAMAGED_SPEC, unpack_spec
from jobq.job import Status


def stored(jobs: Sequence[NewJob], reply: Sequence[Any]) -> list[NewJob]:
    """The jobs as ``enqueue_workflow`` stored them: {"ok", status, spec or "", ...}.
    Raises ``JobNotFound`` or ``DependencyFailed`` for its refusals."""
    if reply[0] == "missing":
        raise refusal(reply[1], None)
    if reply[0] == "refused":
        raise refusal(reply[1], DepState(reply[2], reply[3], None, reply[4], reply[5]))
    out = []
    for i, job in enumerate(jobs):
        status, spec = reply[1 + 2 * i], reply[2 + 2 * i]
        args = (unpack_spec(spec) or DAMAGED_SPEC).args if spec else job.args
        out.append(job._replace(status=Status(status), args=args))
    return out


def retry_refusal(job_id: str, reply: Sequence[str]) -> Exception:
    """``retry.lua``'s {dependency, status ("" when gone), task, error type, message}."""
    dep, status, task, etype, emessage = reply
    return refusal(dep, DepState(status, task, None, etype, emessage) if status else None,
                   waiting=job_id)
