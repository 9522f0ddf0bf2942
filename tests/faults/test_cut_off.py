"""A worker whose link to the store is cut (through a TCP proxy) for three leases, while a
second worker runs directly: the second takes its jobs over within a lease and a reaper
interval; the cut-off worker says "lease lost", its late finish is refused by the fence,
it does not exit, and once the link heals it drains new work."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobq
from jobq import Status
from tests import isolation
from tests.proxy import Proxy
from tests.waiting import wait_for
from tests.worker.harness import Workers
from tests.worker.subject import read_runs

pytestmark = pytest.mark.slow

LEASE = 3.0
REAPER = min(LEASE / 2, 5.0)  # the worker's reaper interval
SLACK = 2.0  # a loaded machine's scheduling delays, on top of the bound


@pytest.fixture
def proxy(store: isolation.Store) -> Iterator[Proxy]:
    relay = Proxy(store.url)
    try:
        yield relay
    finally:
        relay.close()


def _started(run_dir: Path, job_id: str, pid: int) -> bool:
    return any(r.job_id == job_id and r.pid == pid and r.event == "start"
               for r in read_runs(run_dir))


@pytest.mark.parametrize("backend_name", ["postgres", "redis"])
def test_a_worker_cut_off_from_its_store_gives_up_its_jobs_and_works_again_after(
    store_app: Callable[..., jobq.App], workers: Workers, run_dir: Path, proxy: Proxy,
) -> None:
    app = store_app(lease=LEASE)
    stall = app.tasks["stall"]
    cut_off = workers.start(lease=LEASE, name="cut-off", concurrency=2, url=proxy.url)
    held = stall.enqueue(str(run_dir), "release-held")  # runs on through the cut
    done = stall.enqueue(str(run_dir), "release-done")  # ends during the cut
    for job in (held, done):
        wait_for(lambda j=job: _started(run_dir, j.id, cut_off.pid), timeout=60,
                 what=f"the cut-off worker to start {job.id}; its log:\n{cut_off.log()}")
    direct = workers.start(lease=LEASE, name="direct", concurrency=2)
    wait_for(lambda: len(app.workers()) == 2, timeout=60, what="the direct worker to start")

    proxy.cut()
    cut_at = time.monotonic()
    (run_dir / "release-done").touch()  # its result cannot reach the store
    for job in (held, done):
        wait_for(lambda j=job: _started(run_dir, j.id, direct.pid), timeout=60,
                 what=f"the direct worker to take {job.id} over; its log:\n{direct.log()}")
    took = time.monotonic() - cut_at
    wait_for(lambda: all(j.refresh().status is Status.SUCCEEDED for j in (held, done)),
             timeout=60, what="the direct worker to finish both jobs")
    wait_for(lambda: all(_lease_lost(cut_off.log(), j.id) for j in (held, done)), timeout=60,
             what=f"the cut-off worker to give up both leases; its log:\n{cut_off.log()}")
    wait_for(lambda: time.monotonic() - cut_at >= 3 * LEASE, timeout=60,
             what="three leases to pass")
    assert cut_off.proc.poll() is None, "the cut-off worker exited"
    direct.send(signal.SIGTERM)
    assert direct.wait(60) == 0, direct.log()

    proxy.heal()
    wait_for(lambda: f"job {done.id} (stall): result discarded" in cut_off.log(), timeout=60,
             what=f"its late finish to be refused; its log:\n{cut_off.log()}")
    for job in (held, done):
        record = job.refresh().record
        assert (record.status, record.attempts, record.lost_leases) == (Status.SUCCEEDED, 1, 1)
        assert record.result == f"{direct.pid}:1"
        assert len(_lease_lost(cut_off.log(), job.id)) == 1  # said once per job

    fresh = app.enqueue_many([app.tasks["record"].call(str(run_dir)) for _ in range(10)])
    wait_for(lambda: all(j.refresh().status is Status.SUCCEEDED for j in fresh), timeout=90,
             what=f"the healed worker to drain new work; its log:\n{cut_off.log()}")
    assert {j.record.result.split(":")[0] for j in fresh} == {str(cut_off.pid)}
    (run_dir / "release-held").touch()
    cut_off.send(signal.SIGTERM)
    assert cut_off.wait(60) == 0, cut_off.log()
    print(f"\ntaken over {took:.2f}s after the cut (bound: lease {LEASE}s + reaper "
          f"{REAPER}s = {LEASE + REAPER}s)")
    assert took <= LEASE + REAPER + SLACK, took


def _lease_lost(log: str, job_id: str) -> list[str]:
    return re.findall(rf"job {job_id} \(stall\): lease lost", log)
