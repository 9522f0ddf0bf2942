"""Enqueueing, the part of ``App`` that makes jobs of calls and hands them to the store:
one call, many in one round trip, a workflow, or inside the caller's transaction. Also
how job ids are made."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import MISSING, fields, replace
from typing import TYPE_CHECKING, Any, cast

from jobq.backends.base import Backend, NewJob, TransactionalBackend, Waits, utc
from jobq.config import Settings, redact_url
from jobq.errors import ConfigError, EnqueueIncomplete, JobNotFound
from jobq.job import Job, JobRecord, Status
from jobq.limits import JobLimits, limits_of
from jobq.serializer import encode_call
from jobq.task import Call, EnqueueOptions, Task

if TYPE_CHECKING:
    from jobq.app import App
    from jobq.workflow import Plan, WorkflowHandle

log = logging.getLogger("jobq")


class Enqueueing:
    """``App``'s enqueue methods (``App`` is the only class that mixes this in)."""

    if TYPE_CHECKING:  # what App provides
        settings: Settings

        @property
        def backend(self) -> Backend: ...

        def get_task(self, name: str) -> Task[..., Any]: ...

        def get_job(self, job_id: str) -> Job | None: ...

    @property
    def _app(self) -> App:
        return cast("App", self)

    def _new_job(self, call: Call, now: float, job_id: str | None,
                 encoded: tuple[str, str] | None, limited: JobLimits | None) -> NewJob:
        """The job to store for ``call``; ``limited`` is its limits (``limits_of(call)``),
        worked out before anything is stored."""
        task, opts = call.task, call.options
        defaults = task.options
        run_at = now
        if opts.delay:
            run_at = now + opts.delay
        elif opts.at is not None:  # EnqueueOptions made sure it is timezone-aware
            run_at = opts.at.timestamp()
        args, kwargs = encoded or encode_call(task.name, call.args, call.kwargs)
        return NewJob(
            call.id or job_id or new_job_id(now),
            task.name,
            opts.queue or defaults.queue,
            args,
            kwargs,
            defaults.priority if opts.priority is None else opts.priority,
            defaults.retries + 1,
            run_at,
            now,
            Status.SCHEDULED if run_at > now else Status.PENDING,
            opts.key,
            defaults.timeout,
            defaults.max_lost if opts.max_lost is None else opts.max_lost,
            *(limited or ()),
        )

    def _job(self, call: Call, stored: NewJob | str) -> Job:
        if isinstance(stored, str):  # an idempotency key matched a live job
            job = self.get_job(stored)
            if job is None and call.options.connection is not None:
                # The match may be the caller's own uncommitted job: read it through it.
                backend = self.backend
                record = (backend.get_in(call.options.connection, stored)
                          if isinstance(backend, TransactionalBackend) else None)
                job = None if record is None else Job(self._app, record)
            if job is None:
                raise JobNotFound(f"job {stored} vanished while being read")
            return job
        return Job._deferred(self._app, stored.id, _record_of, stored, call)

    def enqueue_call(self, call: Call) -> Job:
        """Enqueue one ``Call``."""
        if call.task.app is not self:
            raise ConfigError(f"task {call.task.name!r} belongs to another App")
        call.task.signature.check(call.task.name, call.args, call.kwargs)
        if call.options.depends_on:
            from jobq.workflow import Plan, Planned

            planned = Planned(call, list(call.options.depends_on))
            return self._enqueue_planned(Plan([planned], call)).jobs[0]
        new = self._new_job(call, time.time(), None, None, limits_of(call))
        (stored,) = self._enqueue([new], call.options)
        if log.isEnabledFor(logging.DEBUG):  # with DEBUG off, build no fields per job
            log.debug("enqueued %s", new.id, extra={"job_id": new.id, "task": new.task,
                                                     "action": "enqueue"})
        return self._job(call, stored)

    def _enqueue(self, jobs: Sequence[NewJob], options: EnqueueOptions) -> list[NewJob | str]:
        if options.connection is not None:
            backend = self.backend
            if not isinstance(backend, TransactionalBackend):
                raise ConfigError(
                    "connection= (transactional enqueue) needs the postgres backend; "
                    f"this App uses {redact_url(self.settings.url)}"
                )
            return backend.enqueue_in(options.connection, jobs)
        return self.backend.enqueue(jobs)

    def _enqueue_planned(self, plan: Plan) -> WorkflowHandle:
        """Store a compiled workflow (see ``jobq.workflow``) in one atomic unit."""
        from jobq.workflow import WorkflowHandle, shape_text

        for planned in plan.jobs:
            if planned.call.task.app is not self:
                raise ConfigError(f"task {planned.call.task.name!r} belongs to another App")
        # Every call's arguments are encoded (and so checked) before any job is stored.
        encoded = [encode_call(p.call.task.name, p.call.args, p.call.kwargs) for p in plan.jobs]
        limited = [limits_of(p.call) for p in plan.jobs]
        now = time.time()
        ids = {id(p.call): job_id for p, job_id in
               zip(plan.jobs, new_job_ids(now, len(plan.jobs)), strict=True)}
        news = [self._new_job(p.call, now, ids[id(p.call)], args, limits)
                for p, args, limits in zip(plan.jobs, encoded, limited, strict=True)]
        waits = [
            Waits(ids[id(p.call)],
                  tuple(d if isinstance(d, str) else ids[id(d)] for d in p.deps),
                  shape_text(p.shape))
            for p in plan.jobs if p.deps or p.shape is not None
        ]
        stored = self.backend.enqueue_workflow(news, waits)
        jobs: dict[int, Job] = {}
        for planned, new, done in zip(plan.jobs, news, stored, strict=True):
            call = planned.call
            if done.args != new.args:  # results put in front at once: read them back
                call = Call(call.task, tuple(json.loads(done.args)), call.kwargs, call.options)
            jobs[id(planned.call)] = Job._deferred(self._app, done.id, _record_of, done, call)
        if log.isEnabledFor(logging.DEBUG):
            for done in stored:
                log.debug("enqueued %s (%s)", done.id, done.status.value,
                          extra={"job_id": done.id, "task": done.task, "action": "enqueue"})

        def handles(output: Any) -> Any:
            if isinstance(output, Call):
                return jobs[id(output)]
            return [handles(o) for o in output]

        return WorkflowHandle(list(jobs.values()), handles(plan.output))

    def enqueue(self, name: str, *args: Any, **kwargs: Any) -> Job:
        """Enqueue the task registered under ``name``."""
        return self.enqueue_call(Call(self.get_task(name), args, kwargs))

    def enqueue_many(self, calls: Iterable[Call]) -> list[Job]:
        """Enqueue many calls in one round trip to the store; returns their jobs in order."""
        calls = list(calls)
        for call in calls:
            self._check_batched(call)
        if not calls:
            return []
        # Every call's arguments are checked and encoded before any job is stored.
        encoded = [encode_call(c.task.name, c.args, c.kwargs) for c in calls]
        # So are their limit keys: a key function that raises stores nothing of the batch.
        limited = [limits_of(c) for c in calls]
        now = time.time()
        ids = new_job_ids(now, len(calls))
        handles: list[Job] = []

        def jobs() -> Iterator[NewJob]:
            # Made as the store takes them: a store that writes in chunks (Redis) writes
            # one while the next chunk and its handles are made here.
            for call, job_id, args, limits in zip(calls, ids, encoded, limited, strict=True):
                new = self._new_job(call, now, job_id, args, limits)
                handles.append(Job._deferred(self._app, new.id, _record_of, new, call))
                yield new

        try:
            stored = self.backend.enqueue(jobs())
        except EnqueueIncomplete as exc:
            # Each call with the id its job was given: enqueueing them again stores
            # the missing jobs and finds the stored ones by id.
            exc.calls = [c if c.id else replace(c, id=i) for c, i in zip(calls, ids, strict=True)]
            raise
        for i, found in enumerate(stored):
            if not isinstance(found, str):  # stored now: the handle made with it stands
                continue
            if found == handles[i].id:  # a job with this id was stored before (a retry)
                handles[i] = Job._deferred(self._app, found, self._stored_record, found)
            else:  # the live job already holding this call's key
                handles[i] = self._job(calls[i], found)
        return handles

    def _check_batched(self, call: Call) -> None:
        """Refuse what ``enqueue_many`` cannot take, before any job of the batch is stored."""
        if not isinstance(call, Call):
            raise ConfigError(
                f"enqueue_many takes task.call(...) values, got {type(call).__name__}"
            )
        if call.task.app is not self:
            raise ConfigError(f"task {call.task.name!r} belongs to another App")
        if call.options.connection is not None:
            raise ConfigError("enqueue_many does not take connection=; enqueue one by one")
        if call.options.depends_on:
            raise ConfigError(
                "enqueue_many does not take depends_on=; enqueue such a job on its own, "
                "or build a workflow (jobq.group, jobq.chain)"
            )
        call.task.signature.check(call.task.name, call.args, call.kwargs)

    def _stored_record(self, job_id: str) -> JobRecord:
        record: JobRecord | None = self.backend.get(job_id)
        if record is None:
            raise JobNotFound(f"job {job_id} is no longer in the store (pruned by retention?)")
        return record


# UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version and variant bits, and 74
# random bits.
_V7_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V7_SET = (0x7 << 76) | (0x2 << 62)


def new_job_id(now: float) -> str:
    """A new job id: a UUIDv7 as 32 hex digits. Ids made later sort later, so a store's
    index on them grows at its end instead of touching a random page per insert."""
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return f"{value & _V7_CLEAR | _V7_SET:032x}"


def new_job_ids(now: float, count: int) -> list[str]:
    """``count`` ids as ``new_job_id`` makes them, from one read of the system's
    randomness instead of one per id."""
    stamp = int(now * 1000) << 80
    raw = os.urandom(10 * count)
    return [
        f"{(stamp | int.from_bytes(raw[i:i + 10], 'big')) & _V7_CLEAR | _V7_SET:032x}"
        for i in range(0, 10 * count, 10)
    ]


# The JobRecord fields a new job leaves at their defaults; those with a factory (meta={})
# get a fresh value per record.
_RECORD_DEFAULTS = {f.name: f.default for f in fields(JobRecord) if f.default is not MISSING}
_RECORD_FACTORIES = [(f.name, f.default_factory) for f in fields(JobRecord)
                     if f.default_factory is not MISSING]


def _record_of(new: NewJob, call: Call) -> JobRecord:
    # The same record JobRecord(...) builds, made by filling its __dict__: a frozen
    # dataclass's __init__ sets each of its 21 fields through object.__setattr__, which
    # cost more than the rest of enqueue_many did per job.
    record: JobRecord = object.__new__(JobRecord)
    values = record.__dict__
    values.update(_RECORD_DEFAULTS)
    for name, factory in _RECORD_FACTORIES:
        values[name] = factory()
    created_at = utc(new.created_at)
    values.update(
        id=new.id, task=new.task, queue=new.queue, args=list(call.args),
        kwargs=dict(call.kwargs), priority=new.priority, status=new.status, attempts=0,
        max_attempts=new.max_attempts, created_at=created_at,
        run_at=created_at if new.run_at == new.created_at else utc(new.run_at),
        key=new.key, timeout=new.timeout, max_lost=new.max_lost, limit_key=new.limit_key,
    )
    return record
