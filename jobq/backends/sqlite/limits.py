"""The SQLite side of limits: admission of a claim's limited jobs, in the claim's own
``BEGIN IMMEDIATE`` transaction (so no other claim runs between the check and the
lease), on SQLite's clock. See jobq/backends/admission.py and docs/limits.md."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable

from jobq.backends import admission
from jobq.backends.admission import RowShape, decide, limits_of
from jobq.backends.sqlfiles import load_queries
from jobq.limits import JobLimits

Q = load_queries("sqlite")

Claim = Callable[[int, int, str], list[sqlite3.Row]]  # how many, suspects, lease token

SHAPE = RowShape(lambda r: r["id"], lambda r: (-r["priority"], r["seq"]),
                 lambda r: r["lost_leases"] > 0, limits_of)


def admit_claimed(conn: sqlite3.Connection, rows: list[sqlite3.Row], claim_more: Claim,
                  started: float, suspects: int,
                  note_wait: Callable[[float], None]) -> list[sqlite3.Row]:
    """The claimed ``rows`` a worker may start (see ``admission.admit_claimed``);
    ``note_wait`` is told in how many seconds a held job may be looked at again. Each
    round claims under a lease token of its own, so a round decides on its own jobs and
    counts the earlier rounds' admitted ones as running."""
    token = [rows[0]["lease_token"]]

    def more(count: int, suspects: int) -> list[sqlite3.Row]:
        token[0] = uuid.uuid4().hex
        return claim_more(count, suspects, token[0])

    return admission.admit_claimed(
        rows, SHAPE, lambda limited: _admit(conn, limited, token[0], started, note_wait),
        more, suspects)


def _admit(conn: sqlite3.Connection, limited: list[tuple[str, JobLimits]], token: str,
           started: float, note_wait: Callable[[float], None]) -> set[str]:
    """Decide on the limited jobs of a claim; return the ids held back."""
    keys = sorted({lim.key for _, lim in limited})
    state = conn.execute(Q["limit_state"], {"keys": json.dumps(keys), "token": token}).fetchall()
    now = state[0][3]
    decision = decide(now, limited, {r[0]: r[1] for r in state}, {r[0]: r[2] for r in state})
    if decision.held:
        conn.executemany(Q["limit_hold"], [{"id": i, "token": token, "run_at": at, "now": now}
                                           for i, at in decision.held])
    if decision.admitted:
        conn.execute(Q["limit_admit"], {"now": started, "token": token})
    for key_tat in decision.tats.items():
        conn.execute(Q["limit_tat"], key_tat)
    if decision.held:
        note_wait(min(at for _, at in decision.held) - now)
    return {i for i, _ in decision.held}
