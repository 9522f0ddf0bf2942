"""A controllable clock for the periodic tick loop, and a driver that runs the loop's
rounds against the real store while the test moves simulated time."""

from __future__ import annotations

from datetime import UTC, datetime

import jobq
from jobq.worker.leader import PeriodicLoop, holder_id
from tests.waiting import wait_for


class ManualClock:
    """The periodic timeline, set by the test. The store still decides the lease (on its
    own clock, in real time) and admits each tick once, by its identity."""

    def __init__(self, now: float) -> None:
        self.t = now

    def local(self) -> float:
        return self.t

    def observe(self, store_now: float, sent: float, received: float) -> None:
        pass  # the timeline is the test's, not the store's

    def now(self) -> float:
        return self.t


def at(text: str) -> float:
    """An ISO time (UTC) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


class Process:
    """One simulated worker process: its tick loop on ``app``'s store, a fresh holder id
    per start, like a real one."""

    def __init__(self, app: jobq.App, clock: ManualClock, ttl: float = 5.0) -> None:
        self.loop = PeriodicLoop(app.backend, list(app.periodic_tasks.values()),
                                 holder_id("sim"), ttl, clock)

    def run_until_leading(self) -> None:
        """Rounds, in real time, until the store elects this process (a crashed
        predecessor's lease runs out on the store's clock first)."""
        wait_for(lambda: self.loop.step() is not None and self.loop.leading, timeout=30,
                 what="the simulated process to lead", interval=0.05)

    def step(self) -> float:
        return self.loop.step()

    def stop(self) -> None:
        """A clean stop gives the lease up; a crash (not calling this) leaves it to run out."""
        self.loop.resign()


def run_ticks(app: jobq.App, name: str) -> list[float]:
    """The run_at (epoch seconds) of every job of ``name``, oldest first."""
    return sorted(job.record.run_at.timestamp() for job in app.jobs(task=name, limit=10_000))
