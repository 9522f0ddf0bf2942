"""Contract: the periodic store primitives — the leader lease (holder, term, the store's
clock), the registered definitions, and tick admission in the same atomic step as the
job it stores."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

import jobq
from jobq import Status
from jobq.app import new_job_id
from jobq.backends.base import NewJob, PeriodicDefinition, TickVerdict
from tests.backends.support import snapshot
from tests.waiting import wait_for

TTL = 30.0


def _job(name: str = "sweep", tick: int = 0, queue: str = "default") -> NewJob:
    now = time.time()
    return NewJob(new_job_id(now), name, queue, "[]", "{}", 5, 3, tick / 1000, now,
                  Status.PENDING, None, 12.5)


def _past_tick(seconds_ago: float = 60.0) -> int:
    return (int(time.time() - seconds_ago) // 10) * 10_000  # whole ten seconds, in ms


# -- the lease ---------------------------------------------------------------------------------


def test_the_first_candidate_takes_the_lease_and_others_see_it_held(app: jobq.App) -> None:
    backend = app.backend
    first = backend.lead("a/1", None, TTL)
    assert first.held_by("a/1") and first.term >= 1
    assert first.expires_at - first.now == _about(TTL)
    other = backend.lead("b/2", None, TTL)
    assert not other.held_by("b/2")
    assert (other.holder, other.term) == ("a/1", first.term)
    state = backend.periodic_state()
    assert (state.leader.holder, state.leader.term) == ("a/1", first.term)
    assert state.leader.held_by("a/1")


def test_renewal_needs_the_holder_and_its_term(app: jobq.App) -> None:
    backend = app.backend
    first = backend.lead("a/1", None, 1.0)
    renewed = backend.lead("a/1", first.term, TTL)
    assert renewed.term == first.term and renewed.expires_at - renewed.now == _about(TTL)
    wrong_term = backend.lead("a/1", first.term + 7, 1.0)
    assert wrong_term.term == first.term
    assert wrong_term.expires_at == renewed.expires_at  # not renewed (nor shortened)
    assert backend.lead("b/2", first.term, 1.0).holder == "a/1"  # a term alone is not enough


def test_a_lease_that_runs_out_changes_hands_under_the_next_term(app: jobq.App) -> None:
    backend = app.backend
    first = backend.lead("a/1", None, 0.3)
    taken = wait_for(lambda: (lease := backend.lead("b/2", None, TTL)).held_by("b/2") and lease,
                     timeout=30, what="b to take the run-out lease")
    assert taken.term == first.term + 1
    stale = backend.lead("a/1", first.term, TTL)  # the old holder cannot renew any more
    assert not stale.held_by("a/1") and stale.holder == "b/2"


def test_resign_frees_the_lease_at_once_but_only_for_its_holder_and_term(
    app: jobq.App,
) -> None:
    backend = app.backend
    first = backend.lead("a/1", None, TTL)
    backend.resign("b/2", first.term)
    backend.resign("a/1", first.term + 1)
    assert backend.periodic_state().leader.held_by("a/1")
    backend.resign("a/1", first.term)
    assert not backend.periodic_state().leader.held_by("a/1")
    taken = backend.lead("b/2", None, TTL)
    assert taken.held_by("b/2") and taken.term == first.term + 1


def test_candidates_racing_for_a_free_lease_elect_one(app: jobq.App) -> None:
    backend = app.backend
    backend.periodic_state()  # open the store before the threads race
    results: list[str | None] = []
    barrier = threading.Barrier(6)

    def campaign(holder: str) -> None:
        barrier.wait()
        lease = backend.lead(holder, None, TTL)
        results.append(holder if lease.held_by(holder) else None)

    threads = [threading.Thread(target=campaign, args=(f"c/{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [r for r in results if r is not None]
    assert len(results) == 6 and len(winners) == 1
    assert backend.periodic_state().leader.holder == winners[0]


# -- definitions -------------------------------------------------------------------------------


def test_definitions_keep_when_first_and_last_registered(app: jobq.App) -> None:
    backend = app.backend
    one = PeriodicDefinition("sweep", "0123456789abcdef", '{"v": 1}')
    two = PeriodicDefinition("sweep", "fedcba9876543210", '{"v": 2}')
    other = PeriodicDefinition("report", "00000000000000aa", '{"v": 3}')
    backend.register_periodic([one, other], 1000.0, 0.0)
    backend.register_periodic([one, two], 1500.0, 0.0)
    backend.register_periodic([one], 1200.0, 0.0)  # a late writer never moves seen_at back
    found = {(d.name, d.hash): d for d in backend.periodic_state().definitions}
    assert set(found) == {("sweep", one.hash), ("sweep", two.hash), ("report", other.hash)}
    assert (found["sweep", one.hash].first_seen, found["sweep", one.hash].seen_at) == (1000, 1500)
    assert (found["sweep", two.hash].first_seen, found["sweep", two.hash].seen_at) == (1500, 1500)
    assert found["sweep", two.hash].spec == '{"v": 2}'
    backend.register_periodic([two], 2000.0, 1100.0)  # forgets versions last seen before 1100
    left = {(d.name, d.hash) for d in backend.periodic_state().definitions}
    assert left == {("sweep", one.hash), ("sweep", two.hash)}
    backend.register_periodic([two], 2100.0, 1600.0)
    assert [d.hash for d in backend.periodic_state().definitions] == [two.hash]


# -- ticks ---------------------------------------------------------------------------------------


def test_the_leader_fires_a_tick_once_with_its_job(app: jobq.App) -> None:
    backend = app.backend
    lease = backend.lead("a/1", None, TTL)
    tick = _past_tick()
    job = _job(tick=tick)
    before = time.time()
    assert backend.fire_tick("a/1", lease.term, "sweep", tick, job) is TickVerdict.FIRED
    stored = app.get_job(job.id)
    assert stored is not None
    record = stored.record
    assert (record.task, record.queue, record.status) == ("sweep", "default", Status.PENDING)
    assert (record.priority, record.max_attempts, record.timeout) == (5, 3, 12.5)
    assert (record.args, record.kwargs) == ([], {})
    assert record.run_at.timestamp() == tick / 1000
    # created_at is the store's clock when it admitted the tick
    assert before - 5 <= record.created_at.timestamp() <= time.time() + 5
    assert backend.periodic_state().last_ticks == {"sweep": tick}

    again = _job(tick=tick)
    assert backend.fire_tick("a/1", lease.term, "sweep", tick, again) is TickVerdict.DUPLICATE
    older = _job(tick=tick - 10_000)
    assert backend.fire_tick("a/1", lease.term, "sweep", tick - 10_000,
                             older) is TickVerdict.DUPLICATE
    assert app.get_job(again.id) is None and app.get_job(older.id) is None
    assert [j.id for j in app.jobs()] == [job.id]
    assert app.stats() == {"default": {"pending": 1}}


def test_ticks_of_other_tasks_and_later_ticks_are_separate(app: jobq.App) -> None:
    backend = app.backend
    term = backend.lead("a/1", None, TTL).term
    tick = _past_tick()
    for name, at in (("sweep", tick), ("report", tick), ("sweep", tick + 10_000)):
        assert backend.fire_tick("a/1", term, name, at, _job(name, at)) is TickVerdict.FIRED
    assert backend.periodic_state().last_ticks == {"sweep": tick + 10_000, "report": tick}
    assert len(app.jobs()) == 3


def test_only_the_lease_holder_under_its_term_fires_and_a_refusal_stores_nothing(
    app: jobq.App,
) -> None:
    backend = app.backend
    tick = _past_tick()
    assert backend.fire_tick("a/1", 1, "sweep", tick, _job(tick=tick)) is TickVerdict.NOT_LEADER
    first = backend.lead("a/1", None, 0.3)
    assert backend.fire_tick("b/2", first.term, "sweep", tick,
                             _job(tick=tick)) is TickVerdict.NOT_LEADER
    # a deposed leader: its lease ran out and another took it under the next term
    wait_for(lambda: backend.lead("b/2", None, TTL).held_by("b/2"), timeout=30,
             what="b to take the lease")
    assert backend.fire_tick("a/1", first.term, "sweep", tick,
                             _job(tick=tick)) is TickVerdict.NOT_LEADER
    assert snapshot(app) == {}
    assert backend.periodic_state().last_ticks == {}


def test_a_tick_still_in_the_future_on_the_store_clock_is_refused(app: jobq.App) -> None:
    backend = app.backend
    term = backend.lead("a/1", None, TTL).term
    tick = round((time.time() + 30) * 1000)
    assert backend.fire_tick("a/1", term, "sweep", tick, _job(tick=tick)) is TickVerdict.EARLY
    assert snapshot(app) == {} and backend.periodic_state().last_ticks == {}


def test_racing_fires_of_one_tick_store_one_job(app: jobq.App) -> None:
    backend = app.backend
    term = backend.lead("a/1", None, TTL).term
    tick = _past_tick()
    verdicts: list[TickVerdict] = []
    barrier = threading.Barrier(6)

    def fire() -> None:
        barrier.wait()
        verdicts.append(backend.fire_tick("a/1", term, "sweep", tick, _job(tick=tick)))

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert Counter(verdicts) == {TickVerdict.FIRED: 1, TickVerdict.DUPLICATE: 5}
    assert len(app.jobs()) == 1


def test_the_tick_history_is_pruned_but_the_newest_tick_stays_the_cursor(
    app: jobq.App,
) -> None:
    backend = app.backend
    term = backend.lead("a/1", None, TTL).term
    first = _past_tick(600)
    ticks = [first + i * 1000 for i in range(25)]
    for tick in ticks:
        assert backend.fire_tick("a/1", term, "sweep", tick, _job(tick=tick)) is TickVerdict.FIRED
    assert backend.periodic_state().last_ticks == {"sweep": ticks[-1]}
    for tick in (ticks[0], ticks[-1]):
        assert backend.fire_tick("a/1", term, "sweep", tick,
                                 _job(tick=tick)) is TickVerdict.DUPLICATE
    assert len(app.jobs(limit=100)) == 25


def _about(value: float) -> object:
    return pytest.approx(value, abs=2.0)
