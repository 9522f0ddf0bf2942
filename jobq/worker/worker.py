"""The worker: claim → run → finish, with heartbeats and the reaper beside it."""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from jobq.appref import check_not_importing
from jobq.backends.base import ClaimedJob, Outcome
from jobq.backends.policy import apply_retention
from jobq.config import where_url
from jobq.context import RunningJob
from jobq.errors import BackendError, JobqError, UnknownTask
from jobq.job import Status
from jobq.logs import WorkerLog
from jobq.worker.execution import Attempt, timeout_error
from jobq.worker.hooks import Hooks
from jobq.worker.leader import PeriodicLoop, holder_id
from jobq.worker.leases import Leases
from jobq.worker.options import WorkerOptions
from jobq.worker.outcomes import cancelled, decide, failed, job_fields, released
from jobq.worker.pools import POOLS, Pool, PoolSetup
from jobq.worker.presence import Presence
from jobq.worker.side_loops import SideLoop
from jobq.worker.signals import stop_signals
from jobq.worker.throughput import FLUSH_EVERY, ThroughputTally
from jobq.worker.unknown import UnknownTasks

if TYPE_CHECKING:
    from jobq.app import App

# How long a finished job's outcome may wait for others while jobs are still running, so
# that several share one round trip to the store.
REPORT_GATHER = 0.002


class Worker:
    """Runs jobs from its queues in a pool until stopped; ``WorkerOptions`` lists the
    options (``Worker(app, concurrency=8, pool="process")``)."""

    def __init__(self, app: App, /, **options: Any) -> None:
        self.options = opts = WorkerOptions.of(options)
        self.app = app
        self.backend = app.backend
        self.concurrency = opts.concurrency
        self.queues = list(opts.queues or [app.settings.default_queue])
        self.burst = opts.burst
        self.grace = opts.grace
        prefetch = opts.prefetch
        self.capacity = opts.concurrency + (4 * opts.concurrency if prefetch is None else prefetch)
        # Claim in batches: unless all is idle, wait for half the room to be free, so one
        # round trip to the store brings several jobs while the prefetched ones run.
        self._claim_batch = min(max(opts.concurrency, self.capacity // 2), self.capacity)
        self.lease = app.settings.lease
        self.id = opts.name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.log = WorkerLog(self.id)
        self._attempts: dict[str, Attempt] = {}
        self._attempts_lock = threading.Lock()
        self._done: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._lost: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._unreported: list[tuple[Attempt, Outcome]] = []
        self._gathering_since: float | None = None  # when the oldest unreported one came
        # Burst mode: retries this worker scheduled are its own unfinished work, so it waits
        # for them; other delayed jobs are left for later workers.
        self._own_retries: dict[str, float] = {}
        self._stop_requested_at: float | None = None
        self._stop_now = False
        self._crash: tuple[str, BaseException] | None = None
        self._throughput = ThroughputTally(self.backend, self.id)
        self._hooks = Hooks(self.log, (self._throughput, *opts.hooks))
        self._pool: Pool = POOLS[opts.pool](PoolSetup(
            app, opts, self._on_attempt_done, opts.concurrency, f"jobq-{os.getpid()}", self.log
        ))
        self._leases = Leases(self.lease)
        self._unknown = UnknownTasks(self.backend, self.id, app.tasks,
                                     app.settings.unknown_task_timeout, self.log)
        self._presence = Presence(self.backend, self.id, self.queues, app.tasks, self.log)
        # Every worker can fire periodic tasks, its own and those other releases define.
        self._periodic = PeriodicLoop(self.backend, list(app.periodic_tasks.values()),
                                      holder_id(self.id), self.lease, opts.periodic_clock,
                                      logger=self.log)
        self._side_loops = self._make_side_loops()

    def _make_side_loops(self) -> list[SideLoop]:
        loops = [
            SideLoop("throughput", FLUSH_EVERY, self._throughput.flush, self._on_side_crash,
                     self.log),
            SideLoop("heartbeat", self.lease / 4, self._heartbeat, self._on_side_crash,
                     self.log),
            SideLoop("reaper", min(self.lease / 2, 5.0), self._reap, self._on_side_crash,
                     self.log),
            # Never touches the store: it must tick while the store does not answer.
            SideLoop("lease-watch", min(self.lease / 10, 1.0), self._watch_leases,
                     self._on_side_crash, self.log),
            SideLoop("presence", self.lease / 2, self._presence_tick, self._on_side_crash,
                     self.log),
        ]
        if self.app.settings.retention is not None:
            loops.append(SideLoop("retention", 60.0, self._prune, self._on_side_crash, self.log))
        loops.append(SideLoop("periodic", min(1.0, self.lease / 4), self._periodic.step,
                              self._on_side_crash, self.log, first=0.0))
        return loops

    # -- public ----------------------------------------------------------------------

    def run(self) -> None:
        """Work until stopped (or, in burst mode, until nothing is left to do)."""
        check_not_importing()
        self.app.import_tasks()
        self.backend.check_schema()
        self._presence.announce()
        self._pool.start()
        self.log.info("worker %s started: queues=%s concurrency=%d pool=%s store=%s", self.id,
                      ",".join(self.queues), self.concurrency, self.options.pool,
                      where_url(self.app.settings.url), extra={"action": "worker_start"})
        self._check_queues()
        for loop in self._side_loops:
            loop.start()
        try:
            with stop_signals(self._on_signal):
                self._reap()
                self._loop()
        finally:
            self._shut_down()
        if self._crash is not None:
            name, exc = self._crash
            raise JobqError(f"worker stopped: its {name} loop crashed: {exc!r}") from exc

    def _check_queues(self) -> None:
        """Say so when no task of this app uses any of the worker's queues: a typo in
        --queues would otherwise leave it idle without a word."""
        used = {t.options.queue for t in self.app.tasks.values()}
        if used and not used & set(self.queues):
            self.log.warning("no task of this app uses queue(s) %s (its tasks use: %s); this "
                             "worker runs only jobs enqueued there with with_options(queue=)",
                             ", ".join(self.queues), ", ".join(sorted(used)),
                             extra={"action": "queues_unused"})

    def stop(self, graceful: bool = True) -> None:
        """Ask the worker to stop; safe from any thread."""
        if graceful and self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        else:
            self._stop_now = True
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop_now:
            self._wake.clear()
            self._collect()
            self._report()
            if self._stop_requested_at is not None:
                if self._drain_step():
                    return
                continue
            claimed = self._claim()
            if claimed is None:  # the store failed; _claim waited before returning
                continue
            if claimed:
                continue
            due = None
            if self.burst:
                done, due = self._burst_done()
                if done:
                    return
            self._idle_wait(due)

    def _claim(self) -> list[ClaimedJob] | None:
        self._unknown.hand_back()  # any left from a store error
        free = self.capacity - len(self._attempts)
        if free < self._claim_batch and self._attempts:
            return []
        sent = time.monotonic()
        try:
            claimed = self.backend.claim(self.id, self.queues, free, self.lease,
                                         self._leases.suspects_allowed(), self._unknown.skip)
        except BackendError as exc:
            self.log.warning("claim failed, retrying: %s", exc, extra={"action": "claim_error"})
            self._wake.wait(1.0)
            return None
        self._leases.claimed(claimed, sent)
        for job in claimed:
            self._start(job)
        if self._unknown.names_unread:  # who else runs: whether to skip these tasks
            self._read_registry()
        self._unknown.hand_back()
        return claimed

    def _start(self, job: ClaimedJob) -> None:
        task = self.app.tasks.get(job.task)
        if task is None and job.task:  # a rolling deploy: left for a worker that has it
            self._leases.release(job.id)
            self._unknown.hold(job)
            return
        running = RunningJob(job.id, job.task, job.queue, job.attempts, job.max_attempts)
        attempt = Attempt(job, task, running)
        if task is None:
            attempt.outcome = failed(UnknownTask(
                f"no task named {job.task!r} is registered in the worker's app; import the "
                "module that defines it in the module given to --app"
            ), None, job)
        with self._attempts_lock:
            self._attempts[job.id] = attempt
        if self._own_retries:
            self._own_retries.pop(job.id, None)
        # Logged from this loop, not from the job's thread when it starts: there the
        # line's lock and write contend with the running jobs and slow the drain at INFO.
        self._hooks.claimed(attempt)
        self._pool.submit(attempt)

    def _on_attempt_done(self, attempt: Attempt) -> None:
        self._done.put(attempt)
        self._wake.set()

    def _collect(self) -> None:
        """Turn finished, timed-out and lost attempts into outcomes to report."""
        while True:
            try:
                attempt = self._done.get_nowait()
            except queue.Empty:
                break
            self._unreported.append((attempt, decide(attempt)))
        while True:
            try:
                job_id = self._lost.get_nowait()
            except queue.Empty:
                break
            lost = self._forget(job_id)
            if lost is not None and self._pool.abandon(lost):
                lost.request_cancel()  # its outcome no longer counts: let it stop early
        now = time.monotonic()
        for attempt in list(self._attempts.values()):
            if attempt.running.cancel_requested and self._pool.abandon(attempt, running=False):
                self._unreported.append((attempt, cancelled(attempt)))  # never started
                continue
            deadline = attempt.deadline
            if deadline is not None and now >= deadline and self._pool.abandon(attempt):
                self._time_out(attempt)

    def _time_out(self, attempt: Attempt) -> None:
        claimed = attempt.claimed
        self.log.warning("job %s (%s) ran past its %ss time limit; %s", claimed.id,
                         claimed.task, claimed.timeout, self._pool.abandons,
                         extra=job_fields(claimed, "timeout"))
        ended = failed(timeout_error(claimed), attempt.task, claimed)
        self._unreported.append((attempt, decide(attempt, ended)))
        attempt.request_cancel()  # decided first: a task that checks it may stop early

    def _report_due(self) -> bool:
        """Whether to record the unreported outcomes now: at once when no other job is
        under way or the worker is stopping, else when a claim batch's worth has gathered
        (their room is then claimed again in the same loop) or the oldest has waited
        ``REPORT_GATHER``."""
        return (
            len(self._attempts) <= len(self._unreported)
            or len(self._unreported) >= self._claim_batch
            or time.monotonic() - (self._gathering_since or 0.0) >= REPORT_GATHER
            or self._stop_requested_at is not None
        )

    def _report(self) -> None:
        if not self._unreported:
            return
        if self._gathering_since is None:
            self._gathering_since = time.monotonic()
        if not self._report_due():
            return
        batch = self._unreported
        try:
            applied = self.backend.finish([outcome for _, outcome in batch])
        except BackendError as exc:
            # Keep the outcomes and try again: the leases still protect the jobs.
            self.log.warning("could not record %d outcome(s), retrying: %s", len(batch), exc,
                             extra={"action": "finish_error"})
            self._wake.wait(1.0)
            return
        self._unreported = []
        self._gathering_since = None
        for (attempt, outcome), ok in zip(batch, applied, strict=True):
            self._forget(attempt.claimed.id)
            if ok and self.burst and outcome.status is Status.SCHEDULED and outcome.run_at:
                self._own_retries[outcome.job_id] = outcome.run_at
            self._hooks.outcome(attempt, outcome, ok)

    def _forget(self, job_id: str) -> Attempt | None:
        self._leases.release(job_id)
        with self._attempts_lock:
            return self._attempts.pop(job_id, None)

    def _burst_done(self) -> tuple[bool, float | None]:
        """Whether a burst worker is done, and when its next own retry is due."""
        if self._attempts or self._unreported:
            return False, None
        try:
            for job_id in list(self._own_retries):
                record = self.backend.get(job_id)
                if record is None or record.status not in (Status.SCHEDULED, Status.PENDING):
                    del self._own_retries[job_id]  # run (or cancelled) elsewhere meanwhile
            # Jobs held back by their limit are work left to do: they start once it allows.
            held = self.backend.limit_held(self.queues)
        except BackendError as exc:
            self.log.warning("could not read the schedule: %s", exc, extra={"action": "wait_error"})
            return False, None
        if held:  # the idle wait ends when the store says a held job may start
            return False, None
        if not self._own_retries:
            return True, None
        return False, min(self._own_retries.values())

    def _idle_wait(self, due: float | None = None) -> None:
        timeout = 1.0
        if due is not None:  # a burst worker waiting for a retry: wake when it is due
            timeout = max(0.0, min(timeout, due - time.time()))
        deadlines = [a.deadline for a in self._attempts.values() if a.deadline is not None]
        if self._gathering_since is not None:
            deadlines.append(self._gathering_since + REPORT_GATHER)
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        if self._attempts and self.capacity - len(self._attempts) < self._claim_batch:
            self._wake.wait(timeout)
            return
        try:
            self.backend.wait_for_work(timeout, self._wake)
        except BackendError as exc:
            self.log.warning("waiting for work failed: %s", exc, extra={"action": "wait_error"})
            self._wake.wait(1.0)

    # -- stopping ----------------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        first = self._stop_requested_at is None
        self.stop(graceful=first)
        if first:
            self.log.warning("stopping: finishing running jobs for up to %.0fs (signal again to "
                             "stop now)", self.grace, extra={"action": "worker_stopping"})
        else:
            self.log.warning("stopping now: handing running jobs back to the queue",
                             extra={"action": "worker_stopping_now"})

    def _drain_step(self) -> bool:
        """One step of a graceful stop; True when nothing is left in hand."""
        assert self._stop_requested_at is not None
        for attempt in list(self._attempts.values()):
            # Prefetched jobs go back at once, their attempt not counted.
            if self._pool.abandon(attempt, running=False):
                self._unreported.append((attempt, released(attempt)))
        self._report()
        if not self._attempts and not self._unreported:
            return True
        left = self._stop_requested_at + self.grace - time.monotonic()
        if left <= 0:
            self._release_all()
            return True
        self._wake.wait(min(left, 1.0))
        return False

    def _release_all(self) -> None:
        for attempt in list(self._attempts.values()):
            if self._pool.abandon(attempt):
                self._unreported.append((attempt, released(attempt)))
        self._collect()
        self._report()

    def _shut_down(self) -> None:
        for loop in self._side_loops:
            loop.stop()
        try:
            self._periodic.resign()  # the next leader need not wait for the lease to run out
        except JobqError as exc:
            self.log.warning("could not give up the periodic lead: %s", exc,
                             extra={"action": "periodic_error"})
        try:
            self._unknown.hand_back()
            if self._attempts or self._unreported:
                self._release_all()
        except Exception:  # never mask why the loop ended; the leases will run out
            self.log.exception("could not hand %d job(s) back to the queue; their leases will "
                               "expire and another worker will take them", len(self._attempts),
                               extra={"action": "release_error"})
        self._pool.shutdown()
        try:
            self._throughput.flush()
        except JobqError as exc:
            self.log.warning("could not record the last throughput counts: %s", exc,
                             extra={"action": "throughput_error"})
        self._presence.leave()
        self.log.info("worker %s stopped", self.id, extra={"action": "worker_stop"})

    def _on_side_crash(self, name: str, exc: BaseException) -> None:
        self._crash = (name, exc)
        self.stop(graceful=False)

    # -- side loop ticks (other threads) -----------------------------------------------

    def _heartbeat(self) -> None:
        with self._attempts_lock:
            leases = [(a.claimed.id, a.claimed.token) for a in self._attempts.values()]
        if not leases:
            return
        sent = time.monotonic()
        reply = self.backend.heartbeat(leases, self.lease)
        self._leases.renewed((i for i, _ in leases if i not in reply.lost), sent)
        for job_id in reply.lost:
            attempt = self._attempts.get(job_id)
            if attempt is None or attempt.finished:
                continue  # its outcome was recorded while this heartbeat was on its way
            self.log.warning("job %s: lease lost (taken over after a stall); abandoning it", job_id,
                             extra={"job_id": job_id, "action": "lease_lost"})
            self._lost.put(job_id)
        for job_id in reply.cancel_requested:
            attempt = self._attempts.get(job_id)
            if attempt is not None and not attempt.running.cancel_requested:
                self.log.info("job %s: cancel requested", job_id,
                              extra={"job_id": job_id, "action": "cancel_requested"})
                attempt.request_cancel()
        if reply.lost:
            self._wake.set()

    def _presence_tick(self) -> None:
        self._presence.refresh()
        if self._unknown.watching:
            self._read_registry()

    def _read_registry(self) -> None:
        try:
            self._unknown.update_skips(self.app.workers())
        except BackendError as exc:
            self.log.warning("could not read the worker registry: %s", exc,
                             extra={"action": "registry_error"})

    def _watch_leases(self) -> None:
        """Give up the jobs whose lease this worker can no longer trust: no heartbeat has
        reached the store for nearly a lease. Their late outcome is refused by the fence;
        the worker goes on, and claims again once the store answers."""
        for job_id in self._leases.overdue(time.monotonic()):
            attempt = self._forget(job_id)
            if attempt is None:
                continue
            self.log.warning("job %s (%s): lease lost: no heartbeat reached the store "
                             "before the lease ran out; abandoning the job to the worker that "
                             "takes it over", job_id, attempt.claimed.task,
                             extra={"job_id": job_id, "task": attempt.claimed.task,
                                    "action": "lease_lost"})
            if self._pool.abandon(attempt):
                attempt.request_cancel()  # its outcome no longer counts: let it stop early

    def _reap(self) -> None:
        for job in self.backend.reap():
            extra: dict[str, Any] = {"job_id": job.id, "task": job.task,
                                     "action": f"reaped_{job.status.value}"}
            self.log.warning("job %s (%s): worker %s stopped heartbeating; job is now %s "
                             "(lost leases: %d)", job.id, job.task, job.worker_id,
                             job.status.value, job.lost_leases, extra=extra)

    def _prune(self) -> None:
        retention = self.app.settings.retention
        if retention is not None:
            count = apply_retention(self.backend, retention, time.time())
            if count:
                self.log.info("pruned %d succeeded/cancelled job(s) older than %.0fs", count,
                              retention, extra={"action": "prune"})
