"""Workflows on the SQL stores: storing jobs with their dependencies, retrying one, and
reading a job's links. Each function runs inside the caller's transaction, through a
``Statements`` adapter that runs the store's named queries (``workflows.sql``), so the
steps are written once for SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from jobq.backends.base import Links, NewJob, Waits
from jobq.backends.deps import LIVE, DepState, check_dependencies, decide, external_ids, refusal

Row = Mapping[str, Any]


class Statements(Protocol):
    """Named workflow queries of one store, run in the caller's transaction. A list
    parameter is given as a Python list; the store passes it as it can."""

    def rows(self, name: str, **params: Any) -> Sequence[Row]: ...

    def many(self, name: str, rows: list[dict[str, Any]]) -> None: ...


def _state(row: Row) -> DepState:
    return DepState(row["status"], row["task"], row["result"], row["error_type"],
                    row["error_message"])


def enqueue(db: Statements, jobs: Sequence[NewJob], waits: Sequence[Waits],
            insert: Callable[[Sequence[NewJob]], None]) -> list[NewJob]:
    """Store ``jobs`` and their edges; ``insert`` stores the job rows themselves. The
    dependencies outside the batch are read first (PostgreSQL locks them), so a
    dependency that finishes meanwhile is seen as it ends up."""
    outside = external_ids(jobs, waits)
    found = {r["id"]: _state(r) for r in db.rows("deps_state", ids=outside)} if outside else {}
    check_dependencies(outside, found)
    decision = decide(jobs, waits, found)
    insert(decision.jobs)
    db.many("insert_edge", [
        {"job_id": j, "position": p, "dep_id": d, "met": m, "result": r}
        for j, p, d, m, r in decision.edges
    ])
    if decision.waits:
        db.many("insert_wait", [{"job_id": j, "open": n, "shape": s}
                                for j, n, s in decision.waits])
    return decision.jobs


def _open_deps(db: Statements, ids: list[str]) -> dict[str, list[tuple[str, DepState | None]]]:
    found: dict[str, list[tuple[str, DepState | None]]] = defaultdict(list)
    for r in db.rows("open_deps", ids=ids):
        found[r["job_id"]].append((r["dep_id"], None if r["status"] is None else _state(r)))
    return found


def retry_waiting(db: Statements, job_id: str, release: Callable[[str], None]) -> None:
    """Retry a failed or cancelled job that was never released to run: back to blocked
    while a dependency is open, or released now. Raises ``DependencyFailed`` (changing
    nothing) while one of them is failed, cancelled or gone. Other jobs: untouched."""
    rows = db.rows("unreleased", id=job_id)
    if not rows or not rows[0]["unreleased"] or rows[0]["status"] not in ("failed",
                                                                          "cancelled"):
        return
    deps = _open_deps(db, [job_id]).get(job_id, [])
    for dep_id, state in deps:
        if state is None or state.status not in LIVE:
            raise refusal(dep_id, state, waiting=job_id)
    db.many("retry_blocked", [{"id": job_id}])
    db.many("set_open", [{"id": job_id, "open": len(deps)}])
    if not deps:
        release(job_id)


def restore(db: Statements, job_id: str) -> list[str]:
    """Bring back to blocked the jobs that ``job_id``'s failure failed, now that it was
    retried: each one whose open dependencies are all live again. Returns their ids."""
    candidates = [r["id"] for r in db.rows("failed_by", id=job_id)]
    if not candidates:
        return []
    deps = _open_deps(db, candidates)
    back: dict[str, int] = {}
    for candidate in candidates:  # each comes after the jobs it waits for
        mine = deps.get(candidate, [])
        if mine and all(d in back or (s is not None and s.status in LIVE) for d, s in mine):
            back[candidate] = len(mine)
    if back:
        db.many("retry_blocked", [{"id": c} for c in back])
        db.many("set_open", [{"id": c, "open": n} for c, n in back.items()])
    return list(back)


def links(db: Statements, job_id: str) -> Links:
    return Links(tuple(r["dep_id"] for r in db.rows("dependencies", id=job_id)),
                 tuple(r["job_id"] for r in db.rows("dependents", id=job_id)))
