"""The SQLite side of limits: admission of a claim's limited jobs, in the claim's own
``BEGIN IMMEDIATE`` transaction (so no other claim runs between the check and the
lease), on SQLite's clock. See jobq/backends/admission.py and docs/limits.md."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable

from jobq.backends.admission import decide, in_rounds, limits_of
from jobq.backends.sqlite.access import Q
from jobq.limits import JobLimits

Claim = Callable[[int, int, str], list[sqlite3.Row]]  # how many, suspects, lease token


def admit_claimed(conn: sqlite3.Connection, rows: list[sqlite3.Row], claim_more: Claim,
                  started: float, suspects: int,
                  note_wait: Callable[[float], None]) -> list[sqlite3.Row]:
    """The claimed ``rows`` a worker may start (see ``admission.in_rounds``); ``note_wait``
    is told in how many seconds a held job may be looked at again. Each round claims under
    a lease token of its own, so a round decides on its own jobs and counts the earlier
    rounds' admitted ones as running."""

    def held_of(rows: list[sqlite3.Row], token: str) -> set[str]:
        limited = [(r["id"], lim) for r in sorted(rows, key=lambda r: (-r["priority"], r["seq"]))
                   if (lim := limits_of(r)) is not None]
        return _admit(conn, limited, token, started, note_wait) if limited else set()

    def more(count: int, suspects: int) -> tuple[list[sqlite3.Row], set[str]]:
        token = uuid.uuid4().hex
        rows = claim_more(count, suspects, token)
        return rows, held_of(rows, token)

    return in_rounds(rows, held_of(rows, rows[0]["lease_token"]), lambda r: r["id"],
                     lambda r: r["lost_leases"] > 0, more, suspects)


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
        conn.execute(Q["limit_admit"], {"now": started, "token": token,
                                        "ids": json.dumps(decision.admitted)})
    conn.executemany(Q["limit_tat"], decision.tats.items())
    if decision.held:
        note_wait(min(at for _, at in decision.held) - now)
    return {i for i, _ in decision.held}
