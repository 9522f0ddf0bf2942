"""The PostgreSQL side of limits: the admission of a claim's limited jobs (their columns
are written by the inserts themselves) (see jobq/backends/admission.py, docs/limits.md).

The claim itself is one autocommit statement, as for any job; when it took limited jobs,
the function ``jobq_admit`` (migrations/0006_limits.sql) then locks their keys' rows in
key order, reads the server's clock and each key's state, and admits or holds each job,
in one statement. A key's running jobs are counted with the ones other claims have taken
but not yet decided on, so two claims never admit past a limit between them. A backend
whose last claim took limited jobs sends the admission in the claim's own round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def held_ids(held: list[Any], note_wait: Callable[[float], None]) -> set[str]:
    """The ids ``jobq_admit`` held back (rows of id, when it may be looked at again, the
    server's clock); ``note_wait`` is told how soon the first of them may."""
    if held:
        note_wait(min(h[1] for h in held) - held[0][2])
    return {h[0] for h in held}
