"""Admission of claimed limited jobs, shared by the SQL stores.

A claim leases the best pending jobs as it always did; when some of them carry a limit key,
the same transaction then decides, on the store's clock and in priority order, which of
them may start (``jobq.limits.admit``). The others go back to waiting: ``scheduled`` at
their next allowed time, their attempt given back, marked as held by their limit. The
claim then takes other jobs in their place, so a held key never blocks the jobs behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from jobq.limits import JobLimits, admit

# Rounds of "claim, admit, claim again in place of the held jobs" per claim: each round
# moves the held jobs out of the way, so later rounds meet new jobs.
ROUNDS = 4


Row = TypeVar("Row")


def in_rounds(rows: list[Row], held: set[str], id_of: Callable[[Row], str],
              is_suspect: Callable[[Row], bool],
              claim_more: Callable[[int, int], tuple[list[Row], set[str]]],
              suspects: int) -> list[Row]:
    """The claimed ``rows`` a worker may start, ``held`` being the ids of those their
    limits held back; ``claim_more(n, suspects)`` claims others in their place and
    returns them with the ids held of them, for a few rounds."""
    kept: list[Row] = []
    for last in [False] * (ROUNDS - 1) + [True]:
        kept += [r for r in rows if id_of(r) not in held]
        if not held or last:
            return kept
        suspects -= sum(1 for r in rows if is_suspect(r))
        rows, held = claim_more(len(held), max(suspects, 0))
        if not rows:
            return kept
    return kept


class Decision(NamedTuple):
    admitted: list[str]
    held: list[tuple[str, float]]  # job id, when it may be looked at again
    tats: dict[str, float]  # the new theoretical arrival time of each key that started


def limits_of(row: Any) -> JobLimits | None:
    """The limits a claimed row carries (columns limit_key, limit_concurrency,
    limit_interval, limit_burst), or None."""
    key = row["limit_key"]
    if key is None:
        return None
    return JobLimits(key, row["limit_concurrency"], row["limit_interval"],
                     row["limit_burst"] or 1)


def decide(now: float, jobs: Sequence[tuple[str, JobLimits]], tats: Mapping[str, float | None],
           running: Mapping[str, int]) -> Decision:
    """Admit ``jobs`` (id, limits; best first) against their keys' state: ``tats`` the
    theoretical arrival times, ``running`` the running jobs of each key besides these."""
    tat = dict(tats)
    count = dict(running)
    decision = Decision([], [], {})
    for job_id, limits in jobs:
        key = limits.key
        verdict, new_tat = admit(now, tat.get(key), count.get(key, 0), limits)
        if verdict.admitted:
            decision.admitted.append(job_id)
            count[key] = count.get(key, 0) + 1
            if new_tat is not None and new_tat != tat.get(key):
                tat[key] = new_tat
                decision.tats[key] = new_tat
        else:
            decision.held.append((job_id, verdict.retry_at))
    return decision


class HeldWake:
    """When this process's claims held a job back, the soonest it may be looked at again
    (monotonic): an idle worker waits no longer than that, as it would for a due job."""

    def __init__(self) -> None:
        self._at: float | None = None

    # Past the due time by this much, so the claim then finds the job due: the store's
    # clock and this process's agree only to about a millisecond.
    MARGIN = 0.01

    def note(self, seconds: float) -> None:
        now = time.monotonic()
        at = now + max(seconds, 0.0) + self.MARGIN
        if self._at is None or at < self._at or self._at <= now:
            self._at = at

    def cap(self, timeout: float) -> float:
        """``timeout``, shortened to the soonest held job."""
        at = self._at
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:  # it is due: claim at once, once
            self._at = None
            return 0.0
        return min(timeout, left)
