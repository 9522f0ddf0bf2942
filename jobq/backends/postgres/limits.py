"""The PostgreSQL side of limits: a limited job's columns written at enqueue, and the
admission of a claim's limited jobs (see jobq/backends/admission.py, docs/limits.md).

The claim itself is one autocommit statement, as for any job; when it took limited jobs,
one transaction then locks their keys' rows in key order, reads the server's clock and
each key's state, and admits or holds each job. A key's running jobs are counted with
the ones other claims have taken but not yet decided on, so two claims never admit past
a limit between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import Connection

from jobq.backends import admission
from jobq.backends.admission import RowShape, decide
from jobq.backends.base import NewJob
from jobq.limits import JobLimits


def _limits(row: Any) -> JobLimits | None:
    if row[11] is None:
        return None
    return JobLimits(row[11], row[12], row[13], row[14] or 1)


# Claim rows: seq, priority, id, ..., lost_leases (10), then the four limit columns.
SHAPE = RowShape(lambda r: r[2], lambda r: (-r[1], r[0]), lambda r: r[10] > 0, _limits)


def set_limits(conn: Connection, q: dict[str, str], jobs: Sequence[NewJob]) -> None:
    """Write the limit columns of the limited ones of ``jobs``, just inserted."""
    limited = [j for j in jobs if j.limit_key is not None]
    if not limited:
        return
    conn.execute(q["set_limits"], {
        "ids": [j.id for j in limited], "keys": [j.limit_key for j in limited],
        "concurrencies": [j.limit_concurrency for j in limited],
        "intervals": [j.limit_interval for j in limited],
        "bursts": [j.limit_burst for j in limited],
    })


def admit_claimed(conn: Connection, q: dict[str, str], rows: list[Any],
                  claim_more: Callable[[int, int], list[Any]], token: str,
                  suspects: int, note_wait: Callable[[float], None]) -> list[Any]:
    """The claimed ``rows`` a worker may start; ``note_wait`` is told in how many seconds
    a held job may be looked at again."""
    return admission.admit_claimed(
        rows, SHAPE, lambda limited: _admit(conn, q, limited, token, note_wait), claim_more,
        suspects)


def _admit(conn: Connection, q: dict[str, str], limited: list[tuple[str, JobLimits]],
           token: str, note_wait: Callable[[float], None]) -> set[str]:
    keys = sorted({lim.key for _, lim in limited})
    # Two round trips: lock the keys, read the clock and count; then decide and commit.
    with conn.pipeline(), conn.transaction():
        conn.execute(q["limit_keys"], {"keys": keys})
        state_cur = conn.execute(q["limit_state"], {"keys": keys})
        running_cur = conn.execute(q["limit_running"], {"keys": keys, "token": token})
        state = state_cur.fetchall()
        running: dict[str, int] = dict(running_cur.fetchall())
        now = state[0][2]
        decision = decide(now, limited, {key: tat for key, tat, _ in state}, running)
        conn.execute(q["limit_decide"], {
            "token": token, "admitted": decision.admitted,
            "held": [i for i, _ in decision.held], "held_until": [t for _, t in decision.held],
            "tat_keys": list(decision.tats), "tats": list(decision.tats.values()),
        })
    if decision.held:
        note_wait(min(at for _, at in decision.held) - now)
    return {i for i, _ in decision.held}
