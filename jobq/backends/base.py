"""The one protocol every store implements, and the plain records that cross it.

Each method is one atomic unit in the store (one transaction, one Lua script). Policy
(validation, retries, logging) lives in the core; backends only persist, and every write
they make about a job is conditional on the state it expects, so a stale writer gets
"not applied" instead of overwriting a newer attempt.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, runtime_checkable

from jobq.job import DEFAULT_MAX_LOST, JobError, JobRecord, Status, check_transition

# How long a job whose task the worker lacks waits before it is offered again: half the
# time it has waited so far, within these bounds (seconds). A worker that has the task
# gets it soon during a rolling deploy, and one that never comes costs a claim a minute.
UNKNOWN_TASK_DELAY = (1.0, 60.0)
# A worker row not refreshed for this long is deleted from the registry (one killed
# without a goodbye); long before that, readers ignore it.
FORGET_WORKER_AFTER = 24 * 3600.0


class NewJob(NamedTuple):
    """A job to store. Arguments are already JSON text; times are epoch seconds. A named
    tuple: enqueue_many makes one per job, and a tuple is made much faster than a frozen
    dataclass."""

    id: str
    task: str
    queue: str
    args: str
    kwargs: str
    priority: int
    max_attempts: int
    run_at: float
    created_at: float
    status: Status
    key: str | None = None
    timeout: float | None = None
    max_lost: int = DEFAULT_MAX_LOST
    # A limited job's limit key and limits (jobq.limits.JobLimits); None: unlimited.
    limit_key: str | None = None
    limit_concurrency: int | None = None
    limit_interval: float | None = None  # seconds between two starts of the key
    limit_burst: int = 1


class Waits(NamedTuple):
    """What a new job of a workflow (or with ``depends_on``) waits for.

    ``deps`` are job ids in the order their results are numbered; ``shape`` says how
    those results become the job's first argument, as JSON: a number n is the result of
    ``deps[n]`` (a chain), a list of them (nested lists too) is that list of results (a
    chord); None passes no result (``depends_on``)."""

    job_id: str
    deps: tuple[str, ...]
    shape: str | None = None


@dataclass(frozen=True, slots=True)
class Links:
    """A job's place in a workflow: the jobs it waits for, in order, and the jobs that
    wait for it."""

    dependencies: tuple[str, ...] = ()
    dependents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker now holds. ``attempts`` counts this attempt; ``token`` fences writes."""

    id: str
    task: str
    queue: str
    args: str
    kwargs: str
    attempts: int
    max_attempts: int
    timeout: float | None
    token: str
    lost_leases: int = 0  # leases lost before this claim: a worker holds one such at a time


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended, reported under the claim's lease token.

    status is one of succeeded, failed, scheduled (retry at ``run_at``), cancelled, or
    pending (handed back unfinished by a stopping worker: the attempt is not counted).
    """

    job_id: str
    token: str
    status: Status
    result: str | None = None
    error: JobError | None = None
    run_at: float | None = None

    def __post_init__(self) -> None:
        # An outcome is always a move out of ``running``; an illegal one cannot be built.
        check_transition(Status.RUNNING, self.status)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a heartbeat learnt: leases no longer held, and jobs asked to cancel."""

    lost: frozenset[str] = frozenset()
    cancel_requested: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReapedJob:
    """A job whose lease ran out: back to ``pending`` with one more lost lease, ``failed``
    (WorkerLost) at its ``max_lost``-th, or ``cancelled`` if it had been asked to stop."""

    id: str
    task: str
    status: Status
    worker_id: str | None
    lost_leases: int = 0


class Postponed(NamedTuple):
    """A claimed job whose task the worker does not have, handed back to wait for a worker
    that has it. ``waiting`` is the error message recorded on the job meanwhile;
    ``give_up`` the one it fails with once it has waited too long."""

    job_id: str
    token: str
    waiting: str
    give_up: str


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker as the store's registry knows it. Times are epoch seconds; ``last_seen``
    is on the store's clock."""

    id: str
    host: str
    pid: int
    started_at: float
    queues: tuple[str, ...]
    tasks: tuple[str, ...]
    last_seen: float = 0.0


@dataclass(frozen=True, slots=True)
class WaitingTask:
    """Waiting jobs of one task that a worker lacking the task handed back."""

    task: str
    jobs: int
    since: float  # when the longest-waiting of them was first handed back (epoch seconds)


@dataclass(frozen=True, slots=True)
class Lease:
    """The periodic leader lease as the store holds it, on the store's clock (epoch
    seconds). ``holder`` is None when nobody ever held it; the term grows by one at every
    change of hands, and fences a deposed leader's writes."""

    holder: str | None
    term: int
    expires_at: float
    now: float
    elected_at: float | None = None

    def held_by(self, holder: str) -> bool:
        return self.holder == holder and self.expires_at > self.now


class PeriodicDefinition(NamedTuple):
    """A periodic task as a worker registers it: its name, the hash naming this version,
    and the version's spec (JSON text the core writes and reads; stores only keep it)."""

    name: str
    hash: str
    spec: str


class StoredDefinition(NamedTuple):
    """A registered version, with when it was first and last registered (seconds)."""

    name: str
    hash: str
    spec: str
    first_seen: float
    seen_at: float


@dataclass(frozen=True, slots=True)
class PeriodicState:
    """Everything the tick loop and ``jobq periodic`` read, in one atomic read: the
    store's clock, the leader lease, every registered version, and the last tick fired
    per periodic task (milliseconds)."""

    now: float
    leader: Lease
    definitions: list[StoredDefinition]
    last_ticks: dict[str, int]


# The newest ticks the SQL stores keep per periodic task; the newest is the one that
# counts (ticks are admitted in order), the rest are for people reading the table.
TICKS_KEPT = 10


class TickVerdict(enum.StrEnum):
    """What the store did with a tick: stored its job, or why not."""

    FIRED = "fired"
    DUPLICATE = "duplicate"  # this tick, or a later one of the same task, was fired
    NOT_LEADER = "not_leader"  # the caller does not hold the lease under that term
    EARLY = "early"  # the tick is still in the future on the store's clock


class Throughput(NamedTuple):
    """Attempts that ended in one minute (epoch seconds of its start) on one queue:
    succeeded, failed for good, and failed to be retried. ``minute`` 0 holds the totals
    of the minutes already pruned."""

    minute: int
    queue: str
    succeeded: int = 0
    failed: int = 0
    retried: int = 0


@dataclass(frozen=True)
class JobFilter:
    status: Status | None = None
    task: str | None = None
    queue: str | None = None
    limit: int = 50
    offset: int = 0
    statuses: tuple[Status, ...] = field(default_factory=tuple)


class Backend(Protocol):
    """The store behind an ``App``."""

    url: str

    def migrate(self) -> int:
        """Create or upgrade the schema; return the version now in place."""

    def check_schema(self) -> None:
        """Raise ``SchemaError`` unless the schema is exactly the version this jobq knows."""

    def exists(self) -> bool:
        """Whether a jobq store is there at all (a SQLite file, a PostgreSQL schema, a Redis
        prefix's schema key), found without creating anything."""

    def enqueue(self, jobs: Iterable[NewJob]) -> list[NewJob | str]:
        """Store jobs, in one transaction where the store has them (Redis: one script per
        chunk). Per job: the job itself if stored, or the id of the live
        job already holding its idempotency key. ``jobs`` is read once, and may be made
        as it is read: a store that writes in chunks reads the next while one is written."""

    def enqueue_workflow(self, jobs: Sequence[NewJob], waits: Sequence[Waits]) -> list[NewJob]:
        """Store jobs that wait for others, all or none, in one atomic unit. ``jobs`` come
        in an order where every job follows the jobs of ``jobs`` it waits for. Inside the
        unit each job becomes ``blocked`` unless all it waits for has succeeded (then it
        keeps its own pending or scheduled status, with those results in its arguments).
        Returns the jobs as stored. Raises ``JobNotFound`` for an unknown dependency id and
        ``DependencyFailed`` for a dependency that failed or was cancelled, storing
        nothing."""

    def links(self, job_id: str) -> Links:
        """The jobs ``job_id`` waits for and the jobs that wait for it."""

    def claim(self, worker_id: str, queues: Sequence[str], limit: int,
              lease: float, suspects: int = 1,
              skip_tasks: Sequence[str] = ()) -> list[ClaimedJob]:
        """Promote due scheduled jobs, then take up to ``limit`` pending jobs, highest
        priority then oldest first, leasing them to ``worker_id`` for ``lease`` seconds.
        At most ``suspects`` of them may be jobs that have lost a lease before: a job
        that kills its worker then never takes the same neighbours down twice. Jobs of
        ``skip_tasks`` (tasks the worker lacks that another running worker has) are left
        for others."""

    def heartbeat(self, leases: Sequence[tuple[str, str]], lease: float) -> Heartbeat:
        """Renew the leases given as (job id, token) pairs."""

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record outcomes; per outcome, False when the lease was no longer held. In the
        same unit, a success releases the jobs waiting for it (once), and a failure or
        cancellation fails them, transitively, with ``DependencyFailed``; so do
        ``cancel`` and ``reap``."""

    def cancel(self, job_id: str) -> tuple[JobRecord | None, bool]:
        """Cancel a waiting job or ask a running one to stop. Returns the job as it now
        stands (None for an unknown id) and whether anything changed."""

    def retry(self, job_id: str) -> JobRecord | None:
        """Move a failed or cancelled job back to pending with fresh attempts (blocked while
        a job it waits for has not succeeded yet), and bring back to blocked the jobs its
        failure failed. Returns the job as it now stands, None for an unknown id. Raises
        ``DependencyFailed`` while a job it waits for is failed."""

    def get(self, job_id: str) -> JobRecord | None:
        """The JobRecord with this id, or None."""

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        """JobRecords matching the filter, newest first."""

    def stats(self) -> dict[str, dict[str, int]]:
        """Job counts by queue, then by status. Costs about the same however many finished
        jobs the store keeps (maintained counts, indexes of live jobs)."""

    def oldest_pending(self) -> dict[str, float]:
        """Per queue with pending jobs, since when (``run_at``, epoch seconds) the
        longest-waiting one at the head of a priority's line has been due."""

    def reap(self, now: float | None = None) -> list[ReapedJob]:
        """Jobs whose lease ran out: the attempt is given back (it did not fail) and a lost
        lease counted; back to pending, or failed with WorkerLost at ``max_lost`` lost
        leases, or cancelled if cancel was asked."""

    def postpone(self, jobs: Sequence[Postponed],
                 give_up_after: float | None) -> list[Status | None]:
        """Hand back running jobs whose task the worker lacks, their attempt not counted:
        scheduled again after ``UNKNOWN_TASK_DELAY``, recording since when they wait;
        failed with UnknownTask once they have waited ``give_up_after`` seconds (None:
        never); cancelled if cancel was asked. Per job its new status, or None when the
        lease was no longer held."""

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        """How many waiting jobs (of ``queues``; None: all) claims have held back for their
        rate or concurrency limit."""

    def waiting_tasks(self) -> list[WaitingTask]:
        """Per task, the waiting jobs that a worker lacking the task handed back."""

    def register_worker(self, worker: WorkerInfo) -> None:
        """Add or refresh a worker in the registry (``last_seen`` is set to now), and drop
        the rows of workers not seen for a day."""

    def unregister_worker(self, worker_id: str) -> None:
        """Remove a stopping worker from the registry."""

    def workers(self, stale_after: float) -> list[WorkerInfo]:
        """Workers seen within ``stale_after`` seconds, oldest first."""

    def durability_warnings(self) -> list[str]:
        """What in the store's own configuration can lose jobs (e.g. a Redis that keeps
        nothing on disk); empty when nothing. Never raises for want of permissions."""

    def purge(self, older_than: float, statuses: Iterable[Status]) -> int:
        """Delete finished jobs in ``statuses`` that finished more than ``older_than``
        seconds ago; return how many."""

    def add_throughput(self, worker_id: str, counts: Sequence[Throughput]) -> None:
        """Add a worker's counts of finished attempts to the store's per-minute history
        (rows of its own, or adding on the store's side: never a row every worker
        writes)."""

    def throughput(self, since: int) -> list[Throughput]:
        """The history from minute ``since`` on, summed over workers, by minute then queue;
        ``since=0`` includes the totals of pruned minutes (minute 0)."""

    def prune_throughput(self, before: int) -> None:
        """Fold the minutes before ``before`` into the totals (minute 0). ``purge`` never
        touches the history."""

    def next_due(self, queues: Sequence[str]) -> float | None:
        """When the earliest scheduled job in ``queues`` is due (epoch seconds), if any."""

    def wait_for_work(self, timeout: float, wake: threading.Event | None = None) -> None:
        """Block until work may have arrived, ``wake`` is set, or ``timeout`` passes."""

    def close(self) -> None:
        """Release connections."""

    # -- periodic tasks (see jobq.periodic and docs/periodic.md) ---------------------------

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        """Take the leader lease for ``holder`` for ``ttl`` seconds if it is free or has
        run out (under a new term), or renew it if ``holder`` holds it under ``term``;
        return the lease as it now stands. Decided on the store's clock."""

    def resign(self, holder: str, term: int) -> None:
        """Give the lease up at once, if ``holder`` still holds it under ``term``."""

    def register_periodic(self, definitions: Sequence[PeriodicDefinition], now: float,
                          forget_before: float) -> None:
        """Record that a live worker defines these versions at ``now``: a new version is
        first seen now, a known one is seen again. Versions last seen before
        ``forget_before`` are deleted."""

    def periodic_state(self) -> PeriodicState:
        """The lease, the registered versions and the last tick of each periodic task."""

    def fire_tick(self, holder: str, term: int, name: str, tick: int,
                  job: NewJob) -> TickVerdict:
        """Admit tick ``tick`` (epoch milliseconds) of periodic task ``name`` and store
        ``job`` for it, pending, in one atomic step: only while ``holder`` holds the
        lease under ``term``, only once the tick is due on the store's clock, and only if
        no tick at or after it was admitted for ``name``. The job's ``created_at`` is the
        store's clock at admission."""


@runtime_checkable
class TransactionalBackend(Protocol):
    """A store that can enqueue inside the caller's own transaction (``connection=``): a
    job then exists only if the caller's data commits. PostgreSQL is one."""

    def enqueue_in(self, connection: Any, jobs: Sequence[NewJob]) -> list[NewJob | str]:
        """``Backend.enqueue`` through the caller's connection, committing nothing. The
        connection's type is the store's own (a psycopg connection), so it is ``Any``
        here; a store refuses one it cannot use with ``ConfigError``."""

    def get_in(self, connection: Any, job_id: str) -> JobRecord | None:
        """``Backend.get`` through the caller's connection, so it sees that connection's
        uncommitted jobs."""


def utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def decode_json(text: str | None, default: Any) -> Any:
    """Decode stored JSON; a corrupt value comes back as its raw text, never an exception."""
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return text


def make_error(type_: str | None, message: str | None, tb: str | None) -> JobError | None:
    if type_ is None:
        return None
    return JobError(type_, message or "", tb or "")


def record_from_row(row: Mapping[str, Any], when: Callable[[Any], datetime | None]) -> JobRecord:
    """A stored job row (the SQL stores' shared columns) as a ``JobRecord``.

    ``when`` turns a stored time into an aware UTC datetime. Damaged JSON comes back as
    its raw text, never an exception.
    """
    return JobRecord(
        id=row["id"],
        task=row["task"],
        queue=row["queue"],
        args=decode_json(row["args"], []),
        kwargs=decode_json(row["kwargs"], {}),
        priority=row["priority"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        run_at=when(row["run_at"]),  # type: ignore[arg-type]
        created_at=when(row["created_at"]),  # type: ignore[arg-type]
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        lease_expires_at=when(row["lease_expires_at"]),
        worker_id=row["worker_id"],
        key=row["key"],
        result=decode_json(row["result"], None),
        error=make_error(row["error_type"], row["error_message"], row["error_traceback"]),
        timeout=row["timeout"],
        cancel_requested=bool(row["cancel_requested"]),
        lost_leases=row["lost_leases"],
        max_lost=row["max_lost"],
        unknown_task_since=when(row["unknown_task_since"]),
        limit_key=row["limit_key"],
        limit_held_since=when(row["limit_held_since"]),
    )
