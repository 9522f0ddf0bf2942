"""The Redis store: job hashes and sorted-set indexes under one key prefix.

Every change that touches more than one key is one Lua script (``lua/*.lua``; the keys
are listed in ``keys.md``), so a crash or a dropped connection between two commands
cannot leave a job in no index or in two. Scripts read the server's clock (TIME), so
workers on machines with skewed clocks agree on due times and leases. ``access.py``
holds the connections and schema check, ``reads.py`` the reads about jobs, ``fleet.py``
the worker registry, throughput and periodic leadership.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from jobq.backends.admission import ROUNDS
from jobq.backends.base import (
    UNKNOWN_TASK_DELAY,
    ClaimedJob,
    Heartbeat,
    NewJob,
    Outcome,
    Postponed,
    ReapedJob,
    Waits,
)
from jobq.backends.policy import PURGE_BATCH, in_reap_order, purge_in_batches
from jobq.backends.redis import workflows
from jobq.backends.redis.access import SCHEMA_VERSION, num
from jobq.backends.redis.batches import encode_rows, incomplete, stored_jobs
from jobq.backends.redis.conn import TRANSIENT, Build, same_args
from jobq.backends.redis.fleet import RedisFleet
from jobq.backends.redis.reads import RedisReads
from jobq.backends.redis.records import DAMAGED_SPEC, number, pairs, record_of, unpack_spec
from jobq.backends.redis.settings import warnings
from jobq.backends.redis.wake import WakeListener
from jobq.config import Settings
from jobq.errors import BackendError, KeyConflict
from jobq.job import JobRecord, Status
from jobq.limits import CONCURRENCY_RECHECK

__all__ = ["ENQUEUE_CHUNK", "SCHEMA_VERSION", "RedisBackend", "connect"]

REAP_BATCH = 500
ENQUEUE_CHUNK = 250  # jobs per enqueue script call
FIRST_CHUNK = 50  # jobs in a batch's first call: the server starts on it sooner
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_NOT_CLAIMED = -1  # a claim made while no listener was running


class RedisBackend(RedisReads, RedisFleet):
    """``Backend`` on Redis (``redis://`` or ``rediss://``). Connects on first use."""

    # -- jobs ----------------------------------------------------------------------------

    def enqueue(self, jobs: Iterable[NewJob]) -> list[NewJob | str]:
        now = num(time.time())
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
        now = num(time.time())

        def build(replay: bool) -> tuple[str, ...]:
            return (self.prefix, "1" if replay else "0", now, rows, links)

        return workflows.stored(jobs, self._script("enqueue_workflow", build))

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
            return (self.prefix, again, worker_id, token, str(limit), num(lease),
                    str(max(suspects, 0)), num(CONCURRENCY_RECHECK), str(ROUNDS),
                    str(len(skip_tasks)), *skip_tasks, *queues)

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
        args = [self.prefix, num(lease)]
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
                    err.traceback if err else "", "" if o.run_at is None else num(o.run_at),
                    "1" if again else "0",
                ])
            return (self.prefix, num(time.time()), self._retention_ms, _json.encode(rows))

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
                                      same_args((self.prefix, job_id, num(time.time()))))
        if verdict == "key_held":
            raise KeyConflict(job_id)
        if verdict == "dep_failed":
            raise workflows.retry_refusal(job_id, rest)
        flat = rest[0]
        return record_of(job_id, pairs(flat)) if flat else None

    def reap(self, now: float | None = None) -> list[ReapedJob]:
        at = "" if now is None else num(now)
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
        return in_reap_order(reaped)

    def postpone(self, jobs: Sequence[Postponed],
                 give_up_after: float | None) -> list[Status | None]:
        if not jobs:
            return []
        low, high = UNKNOWN_TASK_DELAY
        rows = _json.encode([[j.job_id, j.token, j.waiting, j.give_up] for j in jobs])
        after = "" if give_up_after is None else num(give_up_after)
        reply = self._script("postpone", same_args(
            (self.prefix, self._retention_ms, after, num(low), num(high), rows)))
        return [Status(status) if status else None for status in reply]

    def durability_warnings(self) -> list[str]:
        try:
            replies = self._redis.pipeline(
                [("INFO", "persistence"), ("INFO", "memory"), ("CONFIG", "GET", "save")])
        except BackendError:
            return []  # unreachable: whatever uses the store next will say so
        return warnings(self._redis.safe_url, *replies)

    def purge(self, older_than: float, statuses: Iterable[Status]) -> int:
        cutoff = ""

        def delete_batch(wanted: list[str]) -> tuple[int, bool]:
            nonlocal cutoff
            # Later rounds keep the first round's cutoff, so a busy store cannot keep the
            # loop going with jobs that finished after the purge began.
            args = (self.prefix, num(older_than), cutoff, str(PURGE_BATCH), *wanted)
            deleted, examined, cutoff = self._script("purge", same_args(args))
            return int(deleted), int(examined) > 0

        return purge_in_batches(statuses, delete_batch)

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


def connect(settings: Settings) -> RedisBackend:
    """The Redis backend for ``settings`` (``redis://`` or ``rediss://`` URL)."""
    return RedisBackend(settings)
