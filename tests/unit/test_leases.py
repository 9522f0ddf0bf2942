"""What a worker trusts of its leases, on its own clock, and how many jobs that lost a
lease before it may hold."""

from __future__ import annotations

import pytest

from jobq.backends.base import ClaimedJob
from jobq.worker.leases import TRUST_MARGIN, Leases

LEASE = 10.0
TRUSTED = LEASE * (1 - TRUST_MARGIN)


def _job(job_id: str, lost: int = 0) -> ClaimedJob:
    return ClaimedJob(job_id, "t", "default", "[]", "{}", 1, 1, None, "token", lost)


def test_a_lease_is_trusted_until_a_margin_before_it_runs_out() -> None:
    leases = Leases(LEASE)
    leases.claimed([_job("a"), _job("b")], sent_at=100.0)
    assert leases.overdue(100.0 + TRUSTED - 0.01) == []
    assert sorted(leases.overdue(100.0 + TRUSTED)) == ["a", "b"]
    assert leases.overdue(1000.0) == []  # each is named once


def test_a_renewal_counts_from_when_the_heartbeat_was_sent() -> None:
    leases = Leases(LEASE)
    leases.claimed([_job("a"), _job("b")], sent_at=100.0)
    leases.renewed(["a"], sent_at=105.0)
    leases.renewed(["a"], sent_at=103.0)  # a late reply to an older heartbeat
    leases.renewed(["gone"], sent_at=105.0)  # a job no longer held is not taken up
    assert leases.overdue(100.0 + TRUSTED) == ["b"]
    assert leases.overdue(105.0 + TRUSTED) == ["a"]
    assert leases.overdue(2000.0) == []


def test_a_released_job_is_never_overdue() -> None:
    leases = Leases(LEASE)
    leases.claimed([_job("a")], sent_at=100.0)
    leases.release("a")
    assert leases.overdue(1000.0) == []


@pytest.mark.parametrize("lost", [1, 2])
def test_a_worker_holds_one_job_that_lost_a_lease_at_a_time(lost: int) -> None:
    leases = Leases(LEASE)
    assert leases.suspects_allowed() == 1
    leases.claimed([_job("fresh")], sent_at=0.0)
    assert leases.suspects_allowed() == 1
    leases.claimed([_job("suspect", lost)], sent_at=0.0)
    assert leases.suspects_allowed() == 0
    leases.overdue(1000.0)  # given up, but still in hand until released
    assert leases.suspects_allowed() == 0
    leases.release("suspect")
    assert leases.suspects_allowed() == 1
