"""Chords under worker faults: the callback runs once, with every result in order, when a
worker is killed mid-run and when a frozen worker reports a member a second time."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests.waiting import wait_for
from tests.worker.harness import Workers, worker_thread
from tests.worker.subject import RELEASE, read_runs

pytestmark = pytest.mark.slow

MEMBERS = 100
LEASE = 2.0  # short, so the killed worker's members come back soon


def _starts(run_dir: Path, job_id: str) -> int:
    return sum(1 for r in read_runs(run_dir) if r.event == "start" and r.job_id == job_id)


def test_a_chord_survives_a_killed_worker_and_calls_back_once(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=LEASE)
    member, gather = app.tasks["member"], app.tasks["gather"]
    header = jobq.group(member.call(str(run_dir), i * 3, 0.3) for i in range(MEMBERS))
    handle = jobq.chord(header, gather.call(str(run_dir))).enqueue()
    callback = handle.jobs[-1]

    def in_flight(pid: int) -> set[str]:
        runs = [r for r in read_runs(run_dir) if r.pid == pid]
        return ({r.job_id for r in runs if r.event == "start"}
                - {r.job_id for r in runs if r.event == "done"})

    # The victim starts first, so it surely holds members when the others join it.
    victim = workers.start(lease=LEASE, name="victim", concurrency=4)
    wait_for(lambda: len(in_flight(victim.pid)) >= 2, timeout=60,
             what="the victim to have members in flight")
    others = [workers.start(lease=LEASE, name=f"w{n}", concurrency=4) for n in range(3)]
    wait_for(lambda: any(r.pid != victim.pid for r in read_runs(run_dir)), timeout=60,
             what="the other workers to start members")
    wait_for(lambda: in_flight(victim.pid), timeout=60, what="a member in flight on the victim")
    victim.kill()
    assert callback.refresh().status is Status.BLOCKED  # the victim's members are unfinished

    expected = [i * 3 for i in range(MEMBERS)]
    assert handle.result(timeout=120) == expected
    record = callback.refresh().record
    assert record.args == [expected, str(run_dir)]
    assert record.attempts == 1
    assert _starts(run_dir, callback.id) == 1
    assert in_flight(victim.pid), "the victim was not killed in the middle of a member"
    assert all(j.refresh().status is Status.SUCCEEDED for j in handle.jobs)
    assert len(others) == 3


def test_a_member_finished_twice_still_calls_back_once(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path,
) -> None:
    app = store_app(lease=1.0)
    stall, member, gather = app.tasks["stall"], app.tasks["member"], app.tasks["gather"]
    # The held member has a queue of its own, which only the worker to be frozen takes;
    # its first run waits for the release file, a later run returns at once.
    slow = stall.with_options(queue="slow").call(str(run_dir))
    header = jobq.group(slow, *(member.call(str(run_dir), i) for i in range(1, 10)))
    handle = jobq.chord(header, gather.call(str(run_dir))).enqueue()
    held, callback = handle.jobs[0], handle.jobs[-1]
    frozen = workers.start(lease=1.0, name="frozen", concurrency=1, queues=["slow"])
    wait_for(lambda: _starts(run_dir, held.id) == 1, what="the held member to start")
    frozen.freeze()

    # Its lease runs out; a worker here reaps it, runs it again and the chord completes.
    with worker_thread(app, concurrency=2, queues=["default", "slow"]):
        results = handle.result(timeout=60)
    assert results[1:] == list(range(1, 10))
    # The second run's result was recorded: run here, as attempt 1 again (a lost lease
    # uses no attempt).
    assert results[0] == f"{os.getpid()}:1"

    # The frozen worker resumes: its first attempt completes and reports, too late.
    (run_dir / RELEASE).touch()
    frozen.send(signal.SIGCONT)
    # By its own lease watch, its next heartbeat, or the store refusing its finish.
    wait_for(lambda: "lease lost" in frozen.log() or "taken over" in frozen.log(),
             what="the resumed worker to find its lease lost")
    frozen.send(signal.SIGTERM)
    assert frozen.wait(30) == 0, frozen.log()

    done = Counter(r.job_id for r in read_runs(run_dir) if r.event == "done")
    assert done[held.id] == 2  # it did finish twice
    assert _starts(run_dir, callback.id) == 1
    record = callback.refresh().record
    assert (record.status, record.attempts) == (Status.SUCCEEDED, 1)
    assert record.result == results
    assert held.refresh().record.result == results[0]
