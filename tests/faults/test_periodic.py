"""Periodic tasks under faults, with real worker processes on each store: several
candidates, a SIGKILLed or SIGSTOPped leader, two processes of one name, a clock 30 s
ahead. The invariants, never timings: one job per tick, none doubled, none early, and
gaps bounded by the lease plus one tick (plus slack for a busy machine)."""

from __future__ import annotations

import itertools
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobq
from tests import isolation
from tests.periodic.subject import TASK, build_app
from tests.waiting import wait_for
from tests.worker.harness import WorkerProcess, Workers

pytestmark = pytest.mark.slow

LEASE = 2.0  # the workers' lease, so also the leader lease
EVERY = 1.0
SLACK = 4.0  # a busy machine's stalls, on top of lease + one tick
SUBJECT = "tests.periodic.subject"
LEADS = re.compile(r"this worker leads \(holder (\S+), term (\d+)\)")


@pytest.fixture
def app(store: isolation.Store) -> Iterator[jobq.App]:
    opened = build_app(store.url, {**store.options, "lease": LEASE}, EVERY)
    yield opened
    opened.close()


def _start(workers: Workers, name: str, **extra: object) -> WorkerProcess:
    return workers.start(lease=LEASE, module=SUBJECT, extra=dict(extra), name=name,
                         concurrency=2)


def _ticks(app: jobq.App) -> list[jobq.Job]:
    return app.jobs(task=TASK, limit=10_000)


def _count(app: jobq.App) -> int:
    return len(_ticks(app))


def _leader(app: jobq.App) -> str | None:
    """The name of the worker holding the lease now (holders are "<name>/<random>")."""
    lease = app.backend.periodic_state().leader
    return lease.holder.split("/")[0] if lease.holder and lease.expires_at > lease.now else None


def _wait_ticks(app: jobq.App, more: int, what: str) -> None:
    target = _count(app) + more
    wait_for(lambda: _count(app) >= target, timeout=60 + 5 * more, what=what, interval=0.1)


def _stop(*processes: WorkerProcess) -> None:
    for process in processes:
        if process.proc.poll() is None:
            process.send(signal.SIGTERM)
    for process in processes:
        assert process.wait(60) in (0, -signal.SIGKILL), process.log()


def _check_one_job_per_tick(app: jobq.App, max_gap: float) -> list[float]:
    """Every tick job: one per tick, on the schedule, admitted no earlier than its tick;
    returns the ticks, oldest first."""
    jobs = _ticks(app)
    counts = Counter(job.record.run_at.timestamp() for job in jobs)
    doubled = {tick: n for tick, n in counts.items() if n > 1}
    assert not doubled, f"ticks fired more than once: {doubled}"
    ticks = sorted(counts)
    assert all(t % EVERY == 0 for t in ticks), "a tick off the aligned schedule"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps, default=0) <= max_gap, f"a gap of {max(gaps)}s between ticks: {ticks}"
    early = [j.id for j in jobs if j.record.created_at < j.record.run_at]
    assert not early, f"jobs admitted before their tick: {early}"
    return ticks


def _leads(process: WorkerProcess) -> set[tuple[str, int]]:
    return {(holder, int(term)) for holder, term in LEADS.findall(process.log())}


# -- test 1 ---------------------------------------------------------------------------------


def test_three_workers_fire_one_job_per_aligned_second(
    app: jobq.App, workers: Workers,
) -> None:
    started = [_start(workers, f"w{i}") for i in range(3)]
    _wait_ticks(app, 10, "ten ticks")
    _stop(*started)
    ticks = _check_one_job_per_tick(app, max_gap=EVERY)  # none missing after the first
    assert len(ticks) >= 10
    assert sum(bool(_leads(p)) for p in started) >= 1


# -- test 2 ---------------------------------------------------------------------------------


def test_killing_the_leader_again_and_again_doubles_no_tick(
    app: jobq.App, workers: Workers,
) -> None:
    alive = {name: _start(workers, name) for name in ("w0", "w1", "w2")}
    killed = []
    for round_ in range(3):
        _wait_ticks(app, 2, "two ticks under the current leader")
        leader = wait_for(lambda: _leader(app), timeout=30, what="a leader")
        alive.pop(leader).kill()
        killed.append(leader)
        replacement = f"r{round_}"
        alive[replacement] = _start(workers, replacement)
        wait_for(lambda: _leader(app) not in (None, *killed), timeout=30,
                 what="another worker to take the lead")
    _wait_ticks(app, 3, "three ticks after the last kill")
    _stop(*alive.values())
    _check_one_job_per_tick(app, max_gap=LEASE + EVERY + SLACK)
    assert len(set(killed)) == 3


# -- test 3 ---------------------------------------------------------------------------------


def test_a_leader_stopped_past_its_lease_and_resumed_doubles_no_tick(
    app: jobq.App, workers: Workers,
) -> None:
    started = {name: _start(workers, name) for name in ("w0", "w1", "w2")}
    _wait_ticks(app, 2, "two ticks")
    stopped_name = wait_for(lambda: _leader(app), timeout=30, what="a leader")
    stopped = started[stopped_name]
    stopped.freeze()
    try:
        wait_for(lambda: _leader(app) not in (None, stopped_name), timeout=30,
                 what="another worker to take the lead")
        _wait_ticks(app, 2, "two ticks under the new leader")
    finally:
        stopped.send(signal.SIGCONT)
    _wait_ticks(app, 4, "four ticks after the old leader resumed")
    _stop(*started.values())
    _check_one_job_per_tick(app, max_gap=LEASE + EVERY + SLACK)
    assert "no longer leads: its lease ran out" in stopped.log()


# -- test 4 ---------------------------------------------------------------------------------


def test_two_workers_with_one_name_on_one_host_are_two_candidates(
    app: jobq.App, workers: Workers,
) -> None:
    twins = [_start(workers, "same"), _start(workers, "same")]
    _wait_ticks(app, 6, "six ticks")
    _stop(*twins)
    _check_one_job_per_tick(app, max_gap=LEASE + EVERY + SLACK)
    first, second = (_leads(p) for p in twins)
    assert first or second, "neither worker led"
    holders = [{h for h, _ in leads} for leads in (first, second)]
    assert not holders[0] & holders[1], "the two processes used one holder id"
    terms = [{t for _, t in leads} for leads in (first, second)]
    assert not terms[0] & terms[1], "both processes led under one term"


# -- test 8 ---------------------------------------------------------------------------------


def test_a_worker_whose_clock_is_30s_ahead_fires_nothing_early_or_twice(
    app: jobq.App, workers: Workers,
) -> None:
    ahead = _start(workers, "ahead", skew=30.0)
    wait_for(lambda: _leader(app) == "ahead", timeout=60, what="the skewed worker to lead")
    others = [_start(workers, "w1"), _start(workers, "w2")]
    wait_for(lambda: _fired(ahead.log_path) >= 4, timeout=60,
             what="the skewed leader to fire four ticks")
    ahead.kill()
    wait_for(lambda: _leader(app) in ("w1", "w2"), timeout=30, what="a new leader")
    _wait_ticks(app, 3, "three ticks under a worker with a right clock")
    _stop(*others)
    _check_one_job_per_tick(app, max_gap=LEASE + EVERY + SLACK)


def _fired(log_path: Path) -> int:
    return log_path.read_text(errors="replace").count("periodic: fired")
