"""The PostgreSQL store: many workers on many machines, one table in its own schema.

Workers claim with ``FOR UPDATE SKIP LOCKED``, so they never wait for each other; they
sleep on ``LISTEN`` and wake on the ``NOTIFY`` an enqueue sends, with a slow poll behind
it. Every decision by time uses the server's clock. The schema is created and upgraded
only by ``jobq migrate`` (``migrate()``): a store that is missing or on another version
is refused with a message that says what to run. Queries live in
``queries.sql`` beside this module, migrations in ``migrations/``. ``access.py`` holds
the connections and schema check, ``reads.py`` the reads about jobs, ``fleet.py`` the
worker registry, throughput and periodic leadership.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from jobq.backends import sqlflow
from jobq.backends.admission import in_rounds
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
from jobq.backends.policy import PURGE_BATCH, REAP_ORDER, purge_in_batches
from jobq.backends.postgres import limits, workflows
from jobq.backends.postgres.conn import MISSING, Connection, Listener, translated
from jobq.backends.postgres.fleet import PostgresFleet
from jobq.backends.postgres.reads import PostgresReads
from jobq.backends.postgres.rows import (
    COPY_TYPES,
    copy_rows,
    job_columns,
    one_job,
    outcome_columns,
    record,
)
from jobq.backends.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from jobq.config import Settings
from jobq.errors import BackendError, ConfigError, KeyConflict
from jobq.job import JobRecord, Status
from jobq.limits import CONCURRENCY_RECHECK

__all__ = ["COPY_FROM", "MIGRATIONS", "SCHEMA_VERSION", "PostgresBackend", "connect"]

CHUNK = 10_000  # jobs per INSERT statement in a bulk enqueue
COPY_FROM = 200  # a batch of jobs without keys this big is stored with COPY


# Folded changes after which the changes table is vacuumed at once (see fold_counts).
VACUUM_AFTER_FOLDING = 10_000


class PostgresBackend(PostgresReads, PostgresFleet):
    """``Backend`` on PostgreSQL: a small connection pool plus, in workers, one LISTEN
    connection. Safe to share between threads; a forked child opens its own connections."""

    # -- enqueue --------------------------------------------------------------------------

    def enqueue(self, jobs: Iterable[NewJob]) -> list[NewJob | str]:
        batch = list(jobs)
        if not batch:
            return []
        keyless = not any(j.key for j in batch)
        with self._conn() as conn:
            try:
                if keyless and len(batch) == 1:  # task.enqueue(): one plain statement
                    conn.execute(self.q["insert_one"],
                                 {**one_job(batch[0]), "channel": self.channel})
                    return list(batch)
                if keyless and len(batch) < COPY_FROM:  # one statement, atomic on its own
                    conn.execute(self.q["insert"],
                                 {**job_columns(batch), "channel": self.channel})
                    return list(batch)
                if keyless:
                    with conn.transaction():
                        self._copy(conn, batch)
                    return list(batch)
            except psycopg.errors.UniqueViolation:
                pass  # an id already stored (a call with its id fixed): nothing was stored
            with conn.transaction():
                return self._store(conn, batch)

    def _copy(self, conn: Connection, jobs: Sequence[NewJob]) -> None:
        """Stream a batch of jobs without keys; the caller holds a transaction."""
        with conn.cursor().copy(self.q["copy_jobs"]) as copy:
            copy.set_types(COPY_TYPES)
            for row in copy_rows(jobs):
                copy.write_row(row)
        if any(j.status is Status.PENDING for j in jobs):
            conn.execute(self.q["notify"], {"channel": self.channel})

    def enqueue_in(self, connection: Any, jobs: Sequence[NewJob]) -> list[NewJob | str]:
        """Store jobs through the caller's psycopg connection, inside its transaction:
        nothing is committed here, and a rollback leaves no job and wakes no worker."""
        if not isinstance(connection, psycopg.Connection):
            raise ConfigError(
                "connection= must be a psycopg 3 connection (psycopg.Connection) to the jobq "
                f"database, got {type(connection).__name__}"
            )
        if not jobs:
            return []
        if not self._checked.mine():
            self.check_schema()
        with translated(self.url, self.schema):
            if connection.autocommit:  # no caller transaction: make the batch one unit
                with connection.transaction():
                    return self._store(connection, jobs)
            return self._store(connection, jobs)

    def get_in(self, connection: Any, job_id: str) -> JobRecord | None:
        """Read a job through the caller's connection, so inside its transaction."""
        with translated(self.url, self.schema):
            cur = connection.cursor(row_factory=dict_row)
            row = cur.execute(self.q["get"], {"id": job_id}).fetchone()
        return record(row) if row else None

    def _store(self, conn: Connection, jobs: Sequence[NewJob]) -> list[NewJob | str]:
        """Insert jobs that may carry idempotency keys; the caller holds a transaction."""
        out: dict[str, NewJob | str] = {}
        todo, ready = list(jobs), False
        for _ in range(5):
            inserted: set[str] = set()
            for start in range(0, len(todo), CHUNK):
                rows = conn.execute(self.q["insert_keyed"], job_columns(todo[start:start + CHUNK]))
                for job_id, status in rows.fetchall():
                    inserted.add(job_id)
                    ready = ready or status == Status.PENDING.value
            missing = [j for j in todo if j.id not in inserted]
            out.update((j.id, j) for j in todo if j.id in inserted)
            keys = [j.key for j in missing if j.key]
            live = dict(conn.execute(
                self.q["live_ids_by_key"], {"keys": keys}
            ).fetchall()) if keys else {}
            out.update((j.id, live[j.key]) for j in missing if j.key in live)
            missing = [j for j in missing if j.key not in live]
            # Jobs with an id already stored (calls with their ids fixed): that job.
            taken = {row[0] for row in conn.execute(
                self.q["existing_ids"], {"ids": [j.id for j in missing]})} if missing else set()
            out.update((j.id, j.id) for j in missing if j.id in taken)
            # A key whose job finished between the insert and the look-up is free again.
            todo = [j for j in missing if j.id not in taken]
            if not todo:
                break
        else:
            raise BackendError(f"could not store {len(todo)} job(s): their idempotency keys "
                               "kept changing hands; try again")
        if ready:
            conn.execute(self.q["notify"], {"channel": self.channel})
        return [out[j.id] for j in jobs]

    def enqueue_workflow(self, jobs: Sequence[NewJob], waits: Sequence[Waits]) -> list[NewJob]:
        with self._conn() as conn, conn.transaction():
            def insert(rows: Sequence[NewJob]) -> None:
                if len(rows) >= COPY_FROM:  # a big workflow: as a big enqueue_many
                    self._copy(conn, rows)
                else:
                    conn.execute(self.q["insert"], {**job_columns(rows), "channel": self.channel})

            return sqlflow.enqueue(workflows.Statements(conn, self.wq), jobs, waits, insert)

    def _settle(self, conn: Connection, ids: list[str]) -> None:
        """Queue the resolution of what waits for ``ids`` in the caller's pipeline."""
        conn.execute(self.wq["settle"], {"ids": ids, "channel": self.channel})

    # -- workers ----------------------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str], limit: int, lease: float,
        suspects: int = 1, skip_tasks: Sequence[str] = (),
    ) -> list[ClaimedJob]:
        if limit <= 0 or not queues:
            return []
        token = uuid.uuid4().hex
        listener = self._listener
        if listener is not None:
            listener.claiming()
        params = {"worker": worker_id, "token": token, "lease": lease, "queue": queues[0],
                  "queues": list(queues), "limit": limit, "suspects": max(suspects, 0),
                  "skip": list(skip_tasks),
                  "channel": self.channel, "recheck": CONCURRENCY_RECHECK}
        query = self.q["claim"] if len(set(queues)) == 1 else self.q["claim_queues"]
        with self._conn() as conn:
            rows, held = self._claim_round(conn, query, params, self._limits_seen)
            if held is not None:  # admission ran: its rounds

                def take(count: int, suspects: int) -> tuple[list[Any], set[str]]:
                    # A token of its own: admission decides on this round's jobs alone.
                    more = {**params, "limit": count, "suspects": suspects,
                            "token": uuid.uuid4().hex}
                    rows, held = self._claim_round(conn, query, more, True, promote=False)
                    return rows, limits.held_ids(held or [], self._limit_wait.note)

                rows = in_rounds(rows, limits.held_ids(held, self._limit_wait.note),
                                 lambda r: r[2], lambda r: r[10] > 0, take, max(suspects, 0))
        rows.sort(key=lambda r: (-r[1], r[0]))
        return [ClaimedJob(r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[15], r[10])
                for r in rows]

    def _claim_round(self, conn: Connection, query: str, params: dict[str, Any],
                     admit: bool, promote: bool = True) -> tuple[list[Any], list[Any] | None]:
        """Claim, and (``admit``) decide on the limited jobs taken, in one round trip; the
        decision is taken after all, in one more, when the claim took limited jobs.
        Returns the rows and what admission held back (None: admission did not run)."""
        with conn.pipeline():  # promote and claim: one round trip, one transaction
            conn.execute(self.q["relaxed_commit"])
            if promote:
                conn.execute(self.q["promote_due"], params)
            cur = conn.execute(query, params)
            admitting = conn.execute(self.q["limit_admit"], params) if admit else None
        rows = cur.fetchall()
        limited = any(r[11] is not None for r in rows)
        if promote:
            self._limits_seen = limited
        if admitting is None and limited:
            admitting = conn.execute(self.q["limit_admit"], params)
        return rows, None if admitting is None else admitting.fetchall()

    def heartbeat(self, leases: Sequence[tuple[str, str]], lease: float) -> Heartbeat:
        if not leases:
            return Heartbeat()
        params = {"ids": [i for i, _ in leases], "tokens": [t for _, t in leases],
                  "lease": lease}
        with self._conn() as conn:
            with conn.pipeline():
                conn.execute(self.q["relaxed_commit"])
                cur = conn.execute(self.q["heartbeat"], params)
            rows = cur.fetchall()
        held = {job_id for job_id, _ in rows}
        return Heartbeat(
            lost=frozenset(job_id for job_id, _ in leases if job_id not in held),
            cancel_requested=frozenset(job_id for job_id, cancel in rows if cancel),
        )

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        with self._conn() as conn:
            with conn.pipeline():  # the outcomes and their resolution: one transaction
                cur = conn.execute(self.q["finish"], outcome_columns(outcomes))
                self._settle(conn, [o.job_id for o in outcomes])
            rows = cur.fetchall()
            if any(status == Status.PENDING.value for _, status in rows):
                conn.execute(self.q["notify"], {"channel": self.channel})
        applied = {job_id for job_id, _ in rows}
        return [o.job_id in applied for o in outcomes]

    def reap(self, now: float | None = None) -> list[ReapedJob]:
        params = {"now": now}
        with self._conn() as conn:
            with conn.pipeline():  # one round trip, one transaction
                conn.execute(self.q["relaxed_commit"])
                cursors = [(conn.execute(self.q[f"reap_to_{status.value}"], params), status)
                           for status in REAP_ORDER]
                conn.execute(self.wq["settle_reaped"], {"channel": self.channel})
                # Every worker reaps every few seconds: the finished counts' changes
                # are folded here, in the same round trip.
                folded = conn.execute(self.q["fold_counts"])
            reaped = [ReapedJob(r[0], r[1], status, r[2], r[3])
                      for cur, status in cursors for r in cur.fetchall()]
            if any(r.status is Status.PENDING for r in reaped):
                conn.execute(self.q["notify"], {"channel": self.channel})
            self._vacuum_if_many(conn, folded.fetchone())
        return reaped

    def postpone(self, jobs: Sequence[Postponed],
                 give_up_after: float | None) -> list[Status | None]:
        if not jobs:
            return []
        low, high = UNKNOWN_TASK_DELAY
        params = {"ids": [j.job_id for j in jobs], "tokens": [j.token for j in jobs],
                  "waitings": [j.waiting for j in jobs], "give_ups": [j.give_up for j in jobs],
                  "give_up_after": give_up_after, "low": low, "high": high}
        steps = (("postpone_cancelled", Status.CANCELLED), ("postpone_failed", Status.FAILED),
                 ("postpone_scheduled", Status.SCHEDULED))
        with self._conn() as conn, conn.transaction():
            decided = {row[0]: status for name, status in steps
                       for row in conn.execute(self.q[name], params).fetchall()}
            # A job that gave up waiting for its task ended: release what waits for it.
            ended = [i for i, s in decided.items() if s is not Status.SCHEDULED]
            if ended:
                self._settle(conn, ended)
        return [decided.get(j.job_id) for j in jobs]

    def durability_warnings(self) -> list[str]:
        return []  # PostgreSQL's durability settings are the operator's (docs/postgres.md)

    def wait_for_work(self, timeout: float, wake: threading.Event | None = None) -> None:
        if wake is not None and wake.is_set():
            return
        self._get_listener().wait(max(self._limit_wait.cap(timeout), 0.0), wake)

    def _get_listener(self) -> Listener:
        with self._lock:
            if self._listener is None or not self._listener_owner.mine():
                self._listener = Listener(self.url, self.channel, self._has_work)
                self._listener_owner.bind()
            return self._listener

    def _has_work(self, conn: Connection) -> bool:
        try:
            row = conn.execute(self.q["has_work"]).fetchone()
        except MISSING:
            return True  # no schema: let the worker find out by claiming
        return bool(row and row[0])

    # -- operators ----------------------------------------------------------------------------

    def cancel(self, job_id: str) -> tuple[JobRecord | None, bool]:
        params = {"id": job_id}
        with self._conn() as conn:
            with conn.pipeline():
                waiting = conn.execute(self.q["cancel_waiting"], params)
                self._settle(conn, [job_id])
                running = conn.execute(self.q["cancel_running"], params)
                got = conn.cursor(row_factory=dict_row).execute(self.q["get"], params)
            row = got.fetchone()
        changed = waiting.rowcount == 1 or running.rowcount == 1
        return (record(row) if row else None), changed

    def retry(self, job_id: str) -> JobRecord | None:
        params = {"id": job_id}
        with self._conn() as conn:
            try:
                with conn.transaction():
                    steps = workflows.Statements(conn, self.wq)

                    def release(waiting: str) -> None:
                        conn.execute(self.wq["release"],
                                     {"ids": [waiting], "channel": self.channel})

                    sqlflow.retry_waiting(steps, job_id, release)
                    retried = conn.execute(self.q["retry"], params)
                    sqlflow.restore(steps, job_id)
                    got = conn.cursor(row_factory=dict_row).execute(self.q["get"], params)
                    row = got.fetchone()
                    if retried.rowcount == 1:
                        conn.execute(self.q["notify"], {"channel": self.channel})
            except psycopg.errors.UniqueViolation:
                raise KeyConflict(job_id) from None
        return record(row) if row else None

    def _fold_counts(self) -> None:
        """Fold the finished counts' appended changes into their counters (migration 0005),
        so that the changes stay few and stats() reads few rows."""
        with self._conn() as conn:
            self._vacuum_if_many(conn, conn.execute(self.q["fold_counts"]).fetchone())

    def _vacuum_if_many(self, conn: Connection, folded: Any) -> None:
        """After a fold (its one row: how many changes it folded), clear their dead rows
        at once if they were many."""
        if folded is not None and folded[0] >= VACUUM_AFTER_FOLDING:
            conn.execute(self.q["vacuum_count_changes"])

    def purge(self, older_than: float, statuses: Iterable[Status],
              batch: int = PURGE_BATCH) -> int:
        def delete_batch(wanted: list[str]) -> tuple[int, bool]:
            params = {"statuses": wanted, "older_than": older_than, "batch": batch}
            # Small batches: each is a short transaction that never blocks the workers.
            with self._conn() as conn:
                deleted: int = conn.execute(self.q["purge"], params).rowcount
            if deleted < batch:
                self._fold_counts()
            return deleted, deleted >= batch

        return purge_in_batches(statuses, delete_batch)


def connect(settings: Settings) -> PostgresBackend:
    """The backend for a ``postgresql://`` URL; connects on first use."""
    return PostgresBackend(settings)
