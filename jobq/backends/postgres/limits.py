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

from jobq.backends.base import NewJob


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


def held_ids(held: list[Any], note_wait: Callable[[float], None]) -> set[str]:
    """The ids ``jobq_admit`` held back (rows of id, when it may be looked at again, the
    server's clock); ``note_wait`` is told how soon the first of them may."""
    if held:
        note_wait(min(h[1] for h in held) - held[0][2])
    return {h[0] for h in held}
