"""The Redis store: job hashes and sorted-set indexes under one key prefix.

Every change that touches more than one key is one Lua script (``lua/*.lua``; the keys
are listed in ``keys.md``), so a crash or a dropped connection between two commands
cannot leave a job in no index or in two. Scripts read the server's clock (TIME), so
workers on machines with skewed clocks agree on due times and leases.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from jobq.backends.base import (
    FORGET_WORKER_AFTER,
    UNKNOWN_TASK_DELAY,
    ClaimedJob,
    Heartbeat,
    JobFilter,
    Lease,
    Links,
    NewJob,
    Outcome,
    PeriodicDefinition,
    PeriodicState,
    Postponed,
    ReapedJob,
    Throughput,
    TickVerdict,
    WaitingTask,
    Waits,
    WorkerInfo,
)
from jobq.backends.redis import periodic, workflows
from jobq.backends.redis.batches import encode_rows, incomplete, stored_jobs
from jobq.backends.redis.conn import (
    TRANSIENT,
    Build,
    Connections,
    Script,
    load_scripts,
    same_args,
)
from jobq.backends.redis.migrate import migrate_1_to_2, migrate_2_to_3, migrate_3_to_4
from jobq.backends.redis.records import (
    DAMAGED_SPEC,
    PendingGroups,
    newest_first,
    number,
    pairs,
    record_of,
    throughput_rows,
    unpack_spec,
    worker_json,
    worker_of,
)
from jobq.backends.redis.settings import warnings
from jobq.backends.redis.wake import WakeListener
from jobq.config import Settings
from jobq.errors import BackendError, KeyConflict, SchemaError
from jobq.job import RETAINED_FOR_A_WHILE, JobRecord, Status

# 2: a job's fixed fields in one spec field, no pending index; 3: workflows
SCHEMA_VERSION = 4
REAP_BATCH = 500
PURGE_BATCH = 500
ENQUEUE_CHUNK = 250  # jobs per enqueue script call
FIRST_CHUNK = 50  # jobs in a batch's first call: the server starts on it sooner
SWEEP_EVERY = 60.0  # seconds between drops of index entries whose job hash expired
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_NOT_CLAIMED = -1  # a claim made while no listener was running
_REAP_ORDER = {Status.CANCELLED: 0, Status.PENDING: 1, Status.FAILED: 2}


def _num(value: float | int) -> str:
    return repr(float(value))


class RedisBackend:
    """``Backend`` on Redis (``redis://`` or ``rediss://``). Connects on first use."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.url
        self.prefix = settings.prefix
        self._retention_ms = (
            "" if settings.retention is None else str(max(1, round(settings.retention * 1000)))
        )
        self._retention = settings.retention
        self._redis = Connections(settings.url)
        self._scripts: dict[str, Script] = load_scripts()
        self._schema_pid = 0
        # A claim whose reply was lost: the next claim re-sends its token to recover the
        # batch it may have leased, rather than leave it to expire.
        self._lost_claim: tuple[str, str, tuple[str, ...]] | None = None
        # Outcomes whose finish call failed: when re-sent they may find themselves applied.
        self._maybe_finished: set[tuple[str, str]] = set()
        self._listener: WakeListener | None = None
        self._listener_lock = threading.Lock()
        self._wait_queues: tuple[str, ...] = (settings.default_queue,)
        self._claim_mark: int | None = None
        self._due_at: float | None = None
        self._last_sweep = float("-inf")

    # -- plumbing ------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self._schema_pid == os.getpid():
            return
        key = self.prefix + "schema"
        _, found = self._redis.pipeline([("SET", key, SCHEMA_VERSION, "NX"), ("GET", key)])
        self._check_version(found)
        self._schema_pid = os.getpid()

    def _check_version(self, found: Any) -> None:
        try:
            version = int(found)
        except (TypeError, ValueError):
            version = 0
        if version < 1:
            raise SchemaError(
                f"{self._redis.safe_url} key {self.prefix}schema holds {found!r}, not a jobq "
                "schema version; is another program using this key prefix?"
            )
        if version < SCHEMA_VERSION:
            env = "" if self.prefix == "jobq:" else f"JOBQ_PREFIX={self.prefix} "
            raise SchemaError(
                f"{self._redis.safe_url} (prefix {self.prefix!r}) has jobq schema version "
                f"{version}, this jobq needs {SCHEMA_VERSION}; stop the workers and run "
                f"`{env}jobq migrate --url {self._redis.safe_url}`"
            )
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self._redis.safe_url} (prefix {self.prefix!r}) has jobq schema version "
                f"{version}, newer than this jobq knows ({SCHEMA_VERSION}); upgrade jobq"
            )

    def _script(self, name: str, build: Callable[[bool], Sequence[Any]]) -> Any:
        self._ensure_schema()
        return self._redis.script(self._scripts[name], build)

    def _call(self, *args: Any) -> Any:
        self._ensure_schema()
        return self._redis.command(*args)

    def _hashes(self, ids: Sequence[str]) -> list[JobRecord | None]:
        flats = json.loads(self._script("read_jobs", same_args((self.prefix, *ids))))
        return [
            record_of(i, pairs(flat)) if flat else None
            for i, flat in zip(ids, flats, strict=True)
        ]

    def close(self) -> None:
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
        self._redis.close()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> int:
        self._schema_pid = 0
        found = self._redis.command("GET", self.prefix + "schema")
        if found == "1":
            migrate_1_to_2(self._redis, self._scripts["migrate_1_to_2"], self.prefix)
            found = "2"
        if found == "2":
            migrate_2_to_3(self._redis, self.prefix)
            found = "3"
        if found == "3":
            migrate_3_to_4(self._redis, self.prefix)
        self._ensure_schema()
        return SCHEMA_VERSION

    def exists(self) -> bool:
        return bool(self._redis.command("EXISTS", self.prefix + "schema"))

    def check_schema(self) -> None:
        self._ensure_schema()

    # -- jobs ----------------------------------------------------------------------------

    def enqueue(self, jobs: Iterable[NewJob]) -> list[NewJob | str]:
        now = _num(time.time())
        prefix = self.prefix
        numbers: dict[float, str] = {}  # a batch's jobs mostly share their times

        def args(rows: str, replay: bool) -> Sequence[Any]:
            return (prefix, "1" if replay else "0", now, rows)

        chunks: list[tuple[list[NewJob], str]] = []  # sent so far, with their rows
        if isinstance(jobs, list) and len(jobs) == 1:  # task.enqueue(): no pipeline
            chunks.append((jobs, encode_rows(jobs, numbers)))
            replies = [self._script("enqueue", functools.partial(args, chunks[0][1]))]
            return stored_jobs(chunks, replies)

        # Bounded scripts (a long one blocks every other client), pipelined: each chunk is
        # sent as soon as it is taken from ``jobs``, so the server stores one while the
        # next is made and encoded. Scripts run in order, so a key held by an earlier
        # chunk is seen by a later one.
        source = iter(jobs)

        def calls() -> Iterator[Build]:
            # A re-send after a dropped connection goes over the chunks taken so far
            # before it takes more.
            for n in itertools.count():
                if n == len(chunks):
                    size = FIRST_CHUNK if n == 0 else ENQUEUE_CHUNK
                    chunk = list(itertools.islice(source, size))
                    if not chunk:
                        return
                    chunks.append((chunk, encode_rows(chunk, numbers)))
                yield functools.partial(args, chunks[n][1])

        self._ensure_schema()
        confirmed: dict[int, Any] = {}
        try:
            replies = self._redis.scripts(self._scripts["enqueue"], calls,
                                          confirmed.__setitem__)
        except BackendError as exc:
            raise incomplete(chunks, confirmed, source, exc) from exc
        return stored_jobs(chunks, replies)

    def enqueue_workflow(self, jobs: Sequence[NewJob], waits: Sequence[Waits]) -> list[NewJob]:
        rows = encode_rows(jobs, {})
        links = _json.encode([[w.job_id, list(w.deps), w.shape or ""] for w in waits])
        now = _num(time.time())

        def build(replay: bool) -> tuple[str, ...]:
            return (self.prefix, "1" if replay else "0", now, rows, links)

        return workflows.stored(jobs, self._script("enqueue_workflow", build))

    def links(self, job_id: str) -> Links:
        dependencies, dependents = self._script("links", same_args((self.prefix, job_id)))
        return Links(tuple(dependencies), tuple(dependents))

    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, lease: float,
        suspects: int = 1, skip_tasks: Sequence[str] = (),
    ) -> list[ClaimedJob]:
        queues = tuple(queues)
        if limit <= 0 or not queues:
            return []
        lost = self._lost_claim
        recovering = lost is not None and lost[1:] == (worker_id, queues)
        token = lost[0] if lost is not None and recovering else uuid.uuid4().hex
        self._note_claim(queues)

        def build(replay: bool) -> tuple[Any, ...]:
            again = "1" if replay or recovering else "0"
            return (self.prefix, again, worker_id, token, str(limit), _num(lease),
                    str(max(suspects, 0)), str(len(skip_tasks)), *skip_tasks, *queues)

        try:
            reply = self._script("claim", build)
        except BackendError:
            self._lost_claim = (token, worker_id, queues)
            raise
        self._lost_claim = None
        reply = json.loads(reply)
        server_now, due = float(reply[0]), reply[1]
        self._due_at = None if not due else time.monotonic() + float(due) - server_now
        fields = reply[2:]
        claimed = []
        for i in range(0, len(fields), 5):
            # A damaged spec reads as a job of no task: the worker fails it as corrupt.
            spec = unpack_spec(fields[i + 3]) or DAMAGED_SPEC
            claimed.append(ClaimedJob(
                id=fields[i], task=spec.task, queue=fields[i + 1], args=spec.args,
                kwargs=spec.kwargs, attempts=int(fields[i + 2]),
                max_attempts=number(spec.max_attempts, int, 1),
                timeout=number(spec.timeout, float, None), token=token,
                lost_leases=number(fields[i + 4], int, 0),
            ))
        return claimed

    def heartbeat(self, leases: Sequence[tuple[str, str]], lease: float) -> Heartbeat:
        if not leases:
            return Heartbeat()
        args = [self.prefix, _num(lease)]
        for job_id, token in leases:
            args += (job_id, token)
        reply = self._script("heartbeat", same_args(args))
        lost = int(reply[0])
        return Heartbeat(frozenset(reply[1:1 + lost]), frozenset(reply[1 + lost:]))

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        maybe = self._maybe_finished

        def build(replay: bool) -> tuple[str, ...]:
            rows = []
            for o in outcomes:
                err = o.error
                again = replay or (o.job_id, o.token) in maybe
                rows.append([
                    o.job_id, o.token, o.status.value, "" if o.result is None else o.result,
                    err.type if err else "", err.message if err else "",
                    err.traceback if err else "", "" if o.run_at is None else _num(o.run_at),
                    "1" if again else "0",
                ])
            return (self.prefix, _num(time.time()), self._retention_ms, _json.encode(rows))

        try:
            reply = self._script("finish", build)
        except BackendError:
            if len(maybe) > 100_000:  # a store down for long: forget the oldest doubts
                maybe.clear()
            maybe.update((o.job_id, o.token) for o in outcomes)
            raise
        if maybe:
            maybe.difference_update((o.job_id, o.token) for o in outcomes)
        return [bool(flag) for flag in reply]

    def cancel(self, job_id: str) -> tuple[JobRecord | None, bool]:
        changed, flat = self._script("cancel", same_args((self.prefix, job_id, self._retention_ms)))
        return (record_of(job_id, pairs(flat)) if flat else None), bool(changed)

    def retry(self, job_id: str) -> JobRecord | None:
        verdict, *rest = self._script("retry",
                                      same_args((self.prefix, job_id, _num(time.time()))))
        if verdict == "key_held":
            raise KeyConflict(job_id)
        if verdict == "dep_failed":
            raise workflows.retry_refusal(job_id, rest)
        flat = rest[0]
        return record_of(job_id, pairs(flat)) if flat else None

    def get(self, job_id: str) -> JobRecord | None:
        self._ensure_schema()
        (record,) = self._hashes([job_id])
        return record

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        if query.limit <= 0:
            return []
        self._ensure_schema()
        wanted = set(query.statuses) | ({query.status} if query.status else set())
        statuses = wanted or set(Status)
        keys = [self.prefix + "status:" + s.value for s in statuses if s is not Status.PENDING]
        chunk = min(max(query.offset + query.limit, 64), 1000)
        groups = PendingGroups(self.prefix, chunk)
        if Status.PENDING in statuses:  # no status index: read from the ready sets
            found_groups = self._script("pending_groups", same_args((self.prefix,)))
            keys += groups.add(found_groups, query.queue)

        def fetch(starts: list[tuple[str, int]]) -> list[list[Any]]:
            replies = self._redis.pipeline([
                groups.command(key, start) or
                ("ZREVRANGE", key, start, start + chunk - 1, "WITHSCORES")
                for key, start in starts
            ])
            return [groups.entries(key, reply) for (key, _), reply in zip(starts, replies,
                                                                          strict=True)]

        ids = newest_first(keys, fetch, groups.page)
        found: list[JobRecord] = []
        skip = query.offset
        while len(found) < query.limit:
            batch = [job_id for _, job_id in zip(range(chunk), ids, strict=False)]
            if not batch:
                break
            for record in self._hashes(batch):
                if record is None or not _matches(record, query, wanted):
                    continue
                if skip:
                    skip -= 1
                elif len(found) < query.limit:
                    found.append(record)
        return found

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for field, value in pairs(self._call("HGETALL", self.prefix + "counts")).items():
            status, _, queue = field.partition(":")
            count = int(value)
            if count > 0:
                out.setdefault(queue, {})[status] = count
        return out

    def oldest_pending(self) -> dict[str, float]:
        flat = self._script("oldest_pending", same_args((self.prefix,)))
        return {flat[i]: float(flat[i + 1]) for i in range(0, len(flat), 2)}

    def reap(self, now: float | None = None) -> list[ReapedJob]:
        at = "" if now is None else _num(now)
        reaped: list[ReapedJob] = []
        while True:
            reply = self._script(
                "reap", same_args((self.prefix, at, str(REAP_BATCH), self._retention_ms))
            )
            for i in range(0, len(reply), 5):
                reaped.append(ReapedJob(reply[i], reply[i + 1], Status(reply[i + 2]),
                                        reply[i + 3] or None, int(reply[i + 4])))
            if len(reply) < 5 * REAP_BATCH:
                break
        self._sweep()
        reaped.sort(key=lambda job: _REAP_ORDER[job.status])  # stable: expiry order within
        return reaped

    def postpone(self, jobs: Sequence[Postponed],
                 give_up_after: float | None) -> list[Status | None]:
        if not jobs:
            return []
        low, high = UNKNOWN_TASK_DELAY
        rows = _json.encode([[j.job_id, j.token, j.waiting, j.give_up] for j in jobs])
        after = "" if give_up_after is None else _num(give_up_after)
        reply = self._script("postpone", same_args(
            (self.prefix, self._retention_ms, after, _num(low), _num(high), rows)))
        return [Status(status) if status else None for status in reply]

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        return int(self._script("limit_held", same_args((self.prefix, *(queues or ())))))

    def waiting_tasks(self) -> list[WaitingTask]:
        flat = self._script("waiting_tasks", same_args((self.prefix,)))
        return [WaitingTask(flat[i], int(flat[i + 1]), float(flat[i + 2]))
                for i in range(0, len(flat), 3)]

    def register_worker(self, worker: WorkerInfo) -> None:
        self._script("register_worker", same_args(
            (self.prefix, worker.id, worker_json(worker), _num(FORGET_WORKER_AFTER))))

    def unregister_worker(self, worker_id: str) -> None:
        self._script("unregister_worker", same_args((self.prefix, worker_id)))

    def workers(self, stale_after: float) -> list[WorkerInfo]:
        flat = self._script("workers", same_args((self.prefix, _num(stale_after))))
        found = (worker_of(flat[i], flat[i + 1], float(flat[i + 2]))
                 for i in range(0, len(flat), 3))
        return sorted((w for w in found if w is not None), key=lambda w: (w.started_at, w.id))

    def durability_warnings(self) -> list[str]:
        try:
            replies = self._redis.pipeline(
                [("INFO", "persistence"), ("INFO", "memory"), ("CONFIG", "GET", "save")])
        except BackendError:
            return []  # unreachable: whatever uses the store next will say so
        return warnings(self._redis.safe_url, *replies)

    def _sweep(self) -> None:
        """Drop the index entries of finished jobs that retention's TTL removed."""
        if self._retention is None or time.monotonic() - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = time.monotonic()
        self.purge(self._retention, RETAINED_FOR_A_WHILE)

    def purge(self, older_than: float, statuses: Iterable[Status]) -> int:
        wanted = sorted(Status(s).value for s in statuses)
        if not wanted:
            return 0
        total, cutoff = 0, ""
        while True:
            # Later rounds keep the first round's cutoff, so a busy store cannot keep the
            # loop going with jobs that finished after the purge began.
            args = (self.prefix, _num(older_than), cutoff, str(PURGE_BATCH), *wanted)
            deleted, examined, cutoff = self._script("purge", same_args(args))
            total += int(deleted)
            if int(examined) == 0:
                return total

    def add_throughput(self, worker_id: str, counts: Sequence[Throughput]) -> None:
        # Redis adds on its own side (HINCRBY): no lock, so no per-worker keys either.
        args = [str(v) for c in counts for v in c]
        if args:
            self._script("add_throughput", same_args((self.prefix, *args)))

    def throughput(self, since: int) -> list[Throughput]:
        flat = self._script("throughput", same_args((self.prefix, str(since))))
        return throughput_rows(flat)

    def prune_throughput(self, before: int) -> None:
        self._script("prune_throughput", same_args((self.prefix, str(before))))

    def next_due(self, queues: Sequence[str]) -> float | None:
        if not queues:
            return None
        value = self._script("next_due", same_args((self.prefix, *queues)))
        return None if value is None else float(value)

    # -- waiting for work ------------------------------------------------------------------

    def _note_claim(self, queues: tuple[str, ...]) -> None:
        self._wait_queues = queues
        listener = self._listener
        if listener is not None and listener.alive and listener.queues == queues:
            self._claim_mark = listener.generation
        else:
            self._claim_mark = _NOT_CLAIMED

    def _ensure_listener(self) -> tuple[WakeListener, bool]:
        with self._listener_lock:
            current = self._listener
            if current is not None and current.alive and current.queues == self._wait_queues:
                return current, False
            if current is not None:
                current.stop()
            self._ensure_schema()
            listener = WakeListener(self._redis, self.prefix, self._wait_queues)
            try:
                listener.start()
            except TRANSIENT as exc:
                raise BackendError(
                    f"cannot reach Redis at {self._redis.safe_url}: {exc}"
                ) from exc
            self._listener = listener
            return listener, True

    def wait_for_work(self, timeout: float, wake: threading.Event | None = None) -> None:
        event = wake or threading.Event()
        if event.is_set():
            return
        listener, fresh = self._ensure_listener()
        mark = self._claim_mark
        if mark == _NOT_CLAIMED or (mark is not None and fresh):
            # The last claim was made before this listener heard anything: a job may
            # have come in between, so let the caller claim again first.
            self._claim_mark = listener.generation
            return
        if self._due_at is not None:  # a scheduled job falls due sooner than the timeout
            timeout = min(timeout, max(0.0, self._due_at - time.monotonic()))
        listener.wait(listener.generation if mark is None else mark, timeout, event)

    # -- periodic tasks (jobq/backends/redis/periodic.py) -------------------------------------

    def lead(self, holder: str, term: int | None, ttl: float) -> Lease:
        args = periodic.lead_args(self.prefix, holder, term, ttl)
        return periodic.lease_of(self._script("lead", same_args(args)))

    def resign(self, holder: str, term: int) -> None:
        self._script("resign", same_args((self.prefix, holder, str(term))))

    def register_periodic(self, definitions: Sequence[PeriodicDefinition], now: float,
                          forget_before: float) -> None:
        args = periodic.register_args(self.prefix, definitions, now, forget_before)
        self._script("register_periodic", same_args(args))

    def periodic_state(self) -> PeriodicState:
        return periodic.state_of(self._script("periodic_state", same_args((self.prefix,))))

    def fire_tick(self, holder: str, term: int, name: str, tick: int,
                  job: NewJob) -> TickVerdict:
        args = periodic.fire_args(self.prefix, holder, term, name, tick, job)
        return periodic.verdict_of(self._script("fire_tick", same_args(args)))


def _matches(record: JobRecord, query: JobFilter, statuses: set[Status]) -> bool:
    return (
        (not statuses or record.status in statuses)
        and (query.task is None or record.task == query.task)
        and (query.queue is None or record.queue == query.queue)
    )


def connect(settings: Settings) -> RedisBackend:
    """The Redis backend for ``settings`` (``redis://`` or ``rediss://`` URL)."""
    return RedisBackend(settings)
