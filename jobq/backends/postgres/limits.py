"""The PostgreSQL side of limits: a limited job's columns written at enqueue, and the
admission of a claim's limited jobs (see jobq/backends/admission.py, docs/limits.md).

The claim itself is one autocommit statement, as for any job; when it took limited jobs,
the function ``jobq_admit`` (migrations/0006_limits.sql) then locks their keys' rows in
key order, reads the server's clock and each key's state, and admits or holds each job,
in one statement. A key's running jobs are counted with the ones other claims have taken
but not yet decided on, so two claims never admit past a limit between them. A backend
whose last claim took limited jobs sends the admission in the claim's own round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import Connection

from jobq.backends.admission import ROUNDS
from jobq.backends.base import NewJob

Rounds = tuple[list[Any], list[Any]]  # a claim's rows, and the ones admission held


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


def admitted(rows: list[Any], held: list[Any], claim_more: Callable[[int, int], Rounds],
             suspects: int, note_wait: Callable[[float], None]) -> list[Any]:
    """The claimed ``rows`` a worker may start, ``held`` being what ``jobq_admit`` held
    back of them; ``claim_more(n, suspects)`` claims and admits others in their place,
    for a few rounds."""
    kept: list[Any] = []
    for last in [False] * (ROUNDS - 1) + [True]:
        held_ids = {h[0] for h in held}
        if held:
            note_wait(min(h[1] for h in held) - held[0][2])
        kept += [r for r in rows if r[2] not in held_ids]
        if not held or last:
            return kept
        suspects -= sum(1 for r in rows if r[10] > 0)
        rows, held = claim_more(len(held_ids), max(suspects, 0))
        if not rows:
            return kept
    return kept
