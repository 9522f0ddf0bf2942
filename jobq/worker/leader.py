"""The periodic tick loop: one side loop of every worker.

Each round it writes the periodic tasks this worker defines to the store (every
``REFRESH`` seconds), and, while any live release defines one, campaigns for the leader
lease. The leader reads every registered version from the store, works out which ticks
are due (``jobq.periodic.plan``) and asks the store to admit each one together with its
job. The store decides: a deposed leader's term is refused, a tick is admitted once, and
never before it is due on the store's clock. The loop's own state is its own: it shares
nothing with the reaper or the claim loop but the store.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from jobq.app import new_job_id
from jobq.backends.base import Backend, NewJob, PeriodicDefinition, PeriodicState, TickVerdict
from jobq.errors import BackendError
from jobq.job import Status
from jobq.periodic import (
    FORGET,
    GRACE_LEASES,
    REFRESH,
    PeriodicSpec,
    Version,
    is_live,
    next_tick,
    plan,
)

log = logging.getLogger("jobq.worker")

EARLY_RETRY = 0.05  # seconds before trying a tick the store found not yet due
ERROR_RETRY = 1.0  # seconds before the next round after a store error
MAX_WAIT = 5.0  # the longest a round waits: definitions other workers add show up by then


class Clock(Protocol):
    """The periodic timeline: "now" in epoch seconds, as the store's clock has it."""

    def local(self) -> float: ...
    def observe(self, store_now: float, sent: float, received: float) -> None: ...
    def now(self) -> float: ...


class StoreClock:
    """The store's clock, estimated from each reply that carries it: the offset between
    the store's time and the local clock (``local``, monotonic unless a test injects
    another), taken at the middle of the round trip. A local clock that is skewed, or
    stepped, changes nothing."""

    def __init__(self, local: Callable[[], float] = time.monotonic) -> None:
        self.local = local
        self._offset: float | None = None

    def observe(self, store_now: float, sent: float, received: float) -> None:
        self._offset = store_now - (sent + received) / 2

    def now(self) -> float:
        if self._offset is None:
            raise RuntimeError("the store's clock has not been read yet")
        return self.local() + self._offset


def holder_id(worker_id: str) -> str:
    """A fresh holder id for this process: the worker's id for people to read, and a
    random part, so two processes never share one, whatever their names."""
    return f"{worker_id}/{uuid.uuid4().hex[:8]}"


class PeriodicLoop:
    """Elects, registers and fires; ``step`` runs one round and says when to run the next.

    ttl: seconds the lease lasts (the App's ``lease``); it is renewed every third of that
    and stops being trusted a quarter of it before it runs out.
    """

    def __init__(self, backend: Backend, specs: Sequence[PeriodicSpec], holder: str,
                 ttl: float, clock: Clock | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = log) -> None:
        self.backend = backend
        self.log = logger
        self.holder = holder
        self.ttl = ttl
        self.clock: Clock = clock or StoreClock()
        self._monotonic = monotonic
        self._mine = [PeriodicDefinition(s.name, s.hash, s.to_json()) for s in specs]
        self._registered_at: float | None = None
        self.term: int | None = None
        self._trusted_until = float("-inf")  # monotonic
        self._renew_at = float("-inf")  # monotonic
        self._specs: dict[tuple[str, str], PeriodicSpec | None] = {}  # None: unreadable

    @property
    def leading(self) -> bool:
        """Whether this worker holds the lease and may still trust it."""
        return self.term is not None and self._monotonic() < self._trusted_until

    # -- one round -------------------------------------------------------------------------

    def step(self) -> float:
        """One round; returns the seconds to wait before the next. A store error means
        "not leader" until a later round says otherwise."""
        try:
            return self._step()
        except (BackendError, OSError) as exc:
            self._drop(f"store error: {exc}")
            self.log.warning("periodic: store error, will retry: %s", exc,
                        extra={"action": "periodic_error"})
            return ERROR_RETRY

    def _step(self) -> float:
        state = self._read()
        if self._mine and self._registration_due():
            now = self.clock.now()
            self.backend.register_periodic(self._mine, now, now - FORGET)
            self._registered_at = now
            state = self._read()
        live = self._live_versions(state)
        if not live:
            if self.leading:
                self.resign()
            return MAX_WAIT
        if self._trusted_until != float("-inf") and not self.leading:
            self._drop("its lease ran out before it was renewed (a paused process or a "
                       "slow store)")
        if not self.leading or self._monotonic() >= self._renew_at:
            wait = self._elect()
            if wait is not None:
                return wait
        retry = self._fire(state, live)
        return self._next_wait(live, retry)

    def _read(self) -> PeriodicState:
        sent = self.clock.local()
        state = self.backend.periodic_state()
        self.clock.observe(state.now, sent, self.clock.local())
        return state

    def _registration_due(self) -> bool:
        return self._registered_at is None or self.clock.now() >= self._registered_at + REFRESH

    def _live_versions(self, state: PeriodicState) -> dict[str, list[Version]]:
        now = self.clock.now()
        live: dict[str, list[Version]] = defaultdict(list)
        for d in state.definitions:
            if not is_live(d.seen_at, now):
                continue
            key = (d.name, d.hash)
            if key not in self._specs:
                self._specs[key] = self._parse(d.name, d.hash, d.spec)
            spec = self._specs[key]
            if spec is not None:
                live[d.name].append(Version(spec, d.first_seen, d.seen_at))
        return live

    def _parse(self, name: str, version: str, text: str) -> PeriodicSpec | None:
        try:
            return PeriodicSpec.from_json(name, text)
        except (ValueError, KeyError, TypeError) as exc:
            self.log.warning("periodic task %s: version %s was written by a jobq this one "
                             "cannot read (%s); it does not fire while this worker leads: "
                             "upgrade jobq here", name, version, exc,
                             extra={"task": name, "action": "periodic_unreadable"})
            return None

    # -- the lease ---------------------------------------------------------------------------

    def _elect(self) -> float | None:
        """Campaign, or renew under the last term held; None when this worker now leads,
        else the seconds to wait before trying again."""
        sent, local = self._monotonic(), self.clock.local()
        lease = self.backend.lead(self.holder, self.term, self.ttl)
        self.clock.observe(lease.now, local, self.clock.local())
        left = lease.expires_at - lease.now  # on the store's clock
        if not lease.held_by(self.holder):
            self._drop(f"{lease.holder} leads (term {lease.term})")
            return min(max(left, 0.0) + 0.01, self.ttl / 3, MAX_WAIT)
        if lease.term != self.term or not self.leading:
            self.log.info("periodic: this worker leads (holder %s, term %d)", self.holder,
                     lease.term, extra={"action": "periodic_leading"})
        self.term = lease.term
        # Counted from before the request went out: the store's clock was at least there.
        self._trusted_until = sent + left - self.ttl / 4
        self._renew_at = min(sent + self.ttl / 3, self._trusted_until)
        return None

    def _drop(self, why: str) -> None:
        if self._trusted_until != float("-inf"):
            self.log.info("periodic: this worker no longer leads: %s", why,
                     extra={"action": "periodic_not_leading"})
        self._trusted_until = float("-inf")

    def resign(self) -> None:
        """Give the lease up, if this worker may hold it (a clean stop, or nothing left
        to fire). The term is kept: the store ignores it once the lease changed hands."""
        if self.term is None:
            return
        was = self.leading
        self._trusted_until = float("-inf")
        self.backend.resign(self.holder, self.term)
        if was:
            self.log.info("periodic: resigned the lead (term %d)", self.term,
                     extra={"action": "periodic_resigned"})

    # -- firing --------------------------------------------------------------------------------

    def _fire(self, state: PeriodicState, live: dict[str, list[Version]]) -> float | None:
        """Fire every due tick; the seconds to wait before retrying one the store found
        early, if any."""
        now = round(self.clock.now() * 1000)
        grace = round(GRACE_LEASES * self.ttl * 1000)
        for name, versions in live.items():
            for tick, spec in plan(versions, state.last_ticks.get(name), now, grace):
                if not self.leading or self.term is None:
                    return 0.0  # renew first
                job = self._job(spec, tick)
                verdict = self.backend.fire_tick(self.holder, self.term, name, tick, job)
                if verdict is TickVerdict.NOT_LEADER:
                    self._drop("the store refused its term")
                    return 0.0
                if verdict is TickVerdict.EARLY:
                    return EARLY_RETRY
                if verdict is TickVerdict.FIRED:
                    _log_fired(self.log, name, tick, job.id)
        return None

    def _job(self, spec: PeriodicSpec, tick: int) -> NewJob:
        now = self.clock.now()
        limits = spec.limits()
        return NewJob(new_job_id(now), spec.name, spec.queue, "[]", "{}", spec.priority,
                      spec.max_attempts, tick / 1000, now, Status.PENDING, None, spec.timeout,
                      spec.max_lost, *(limits or ()))

    def _next_wait(self, live: dict[str, list[Version]], retry: float | None) -> float:
        now = self.clock.now()
        waits = [MAX_WAIT, max(0.0, self._renew_at - self._monotonic())]
        if retry is not None:
            waits.append(retry)
        if self._registered_at is not None:
            waits.append(self._registered_at + REFRESH - now)
        upcoming = next_tick([v for vs in live.values() for v in vs], round(now * 1000))
        if upcoming is not None:
            waits.append(upcoming / 1000 - now)
        return max(0.0, min(waits))


def _log_fired(logger: logging.Logger | logging.LoggerAdapter[logging.Logger], name: str,
                tick: int, job_id: str) -> None:
    when = datetime.fromtimestamp(tick / 1000, UTC).isoformat().replace("+00:00", "Z")
    logger.info("periodic: fired %s for tick %s as job %s", name, when, job_id,
             extra={"job_id": job_id, "task": name, "tick": when,
                    "action": "periodic_fired"})
