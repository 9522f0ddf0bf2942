"""Limits across worker processes on each store: the jobs record their own start and end
times (tests/limits/subject.py), and the test checks what they saw."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.limits.subject import RELEASE, Span, build_app, read_spans, read_starts
from tests.waiting import wait_for
from tests.worker.harness import Workers

pytestmark = pytest.mark.slow
SUBJECT = "tests.limits.subject"


def _most_in_any_window(starts: list[float], width: float) -> int:
    """The most starts any half-open window [t, t + width) holds."""
    starts = sorted(starts)
    return max(bisect.bisect_left(starts, t + width) - i for i, t in enumerate(starts))


def _most_overlapping(spans: list[Span]) -> int:
    edges = sorted([(s.start, 1) for s in spans] + [(s.end, -1) for s in spans])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def _admitted_at(jobs: list[jobq.Job]) -> list[float]:
    """When each job was started, on the store's clock: the moment a claim admitted it.

    A rate limit paces admissions. The time a job reads from its own process adds that
    process's scheduling delay after the claim, which a loaded machine stretches to
    hundreds of milliseconds, so it is not what these tests count."""
    starts = []
    for job in jobs:
        started = job.refresh().started_at
        assert started is not None, job.id
        starts.append(started.timestamp())
    return sorted(starts)


def _done(run_dir: Path, count: int) -> Callable[[], list[Span]]:
    def done() -> list[Span]:
        spans = read_spans(run_dir)
        return spans if len(spans) >= count else []

    return done


def test_a_global_rate_holds_across_processes_and_threads(
        store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path) -> None:
    app = store_app(build=build_app)
    paced = app.tasks["paced"]  # rate_limit="10/s", burst 1
    jobs = app.enqueue_many([paced.call(str(run_dir)) for _ in range(40)])
    for _ in range(3):
        workers.start(module=SUBJECT, concurrency=8)
    wait_for(_done(run_dir, 40), timeout=120, what="40 paced jobs")
    assert _most_in_any_window(_admitted_at(jobs), 1.0) <= 10 + 1


def test_a_rate_over_a_run_gives_its_count_even_with_a_clock_a_minute_ahead(
        store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path) -> None:
    # Sixteen threads in four processes, one of them with its clock 60 s ahead: jobq
    # decides on the store's clock, so the skewed worker starts nothing early.
    app = store_app(build=build_app)
    steady = app.tasks["steady"]  # rate_limit="1/s"
    app.enqueue_many([steady.call(str(run_dir)) for _ in range(23)])
    for n in range(4):
        workers.start(module=SUBJECT, concurrency=4, extra={"skew": 60.0} if n == 0 else {})
    spans = wait_for(_done(run_dir, 23), timeout=120, what="23 steady jobs")
    # The jobs' own readings of the real clock (the skewed worker's store timestamps on
    # SQLite come from its own, skewed, clock): a second apart, a process's scheduling
    # delay moves a start, not the count.
    first = spans[0].start
    in_twenty_seconds = sum(1 for s in spans if s.start < first + 20.0)
    assert 20 - 1 <= in_twenty_seconds <= 20 + 1


def test_a_concurrency_limit_per_key_holds_and_its_slots_are_used(
        store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path) -> None:
    app = store_app(build=build_app)
    per_key = app.tasks["per_key"]  # concurrency_limit=2, keyed by its key argument
    app.enqueue_many([per_key.call(str(run_dir), f"k{n % 5}", 0.5) for n in range(40)])
    for _ in range(3):
        workers.start(module=SUBJECT, concurrency=10)
    spans = wait_for(_done(run_dir, 40), timeout=120, what="40 keyed jobs")
    by_key: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_key[span.key].append(span)
    assert {key: _most_overlapping(s) for key, s in by_key.items()} == {
        f"k{n}": 2 for n in range(5)}


def test_a_killed_workers_slots_free_once_its_leases_are_reaped(
        store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path) -> None:
    app = store_app(build=build_app)
    per_key = app.tasks["per_key"]
    jobs = app.enqueue_many([per_key.call(str(run_dir), "A", hold=True) for _ in range(4)])
    first = workers.start(module=SUBJECT, concurrency=4, lease=1.0)
    wait_for(lambda: len(read_starts(run_dir)) == 2, what="both of A's slots taken")
    statuses = sorted(j.refresh().status.value for j in jobs)
    assert statuses == ["running", "running", "scheduled", "scheduled"]
    first.kill()
    (Path(run_dir) / RELEASE).touch()  # every run from now on returns at once
    workers.start(module=SUBJECT, concurrency=4, lease=1.0)
    wait_for(lambda: all(j.refresh().status is Status.SUCCEEDED for j in jobs),
             timeout=60, what="all of A's jobs to succeed")
    assert {s.job_id for s in read_spans(run_dir)} == {j.id for j in jobs}
    assert [j.record.attempts for j in jobs] == [1] * 4
