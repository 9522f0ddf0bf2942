"""The ``App``: configuration, the task registry, enqueueing and queries."""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import MISSING, fields, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from jobq.backends import backend_kind, open_backend
from jobq.backends.base import (
    Backend,
    JobFilter,
    NewJob,
    TransactionalBackend,
    WaitingTask,
    Waits,
    WorkerInfo,
    utc,
)
from jobq.config import Settings, check_names, checked_keywords, load_settings, redact_url
from jobq.errors import (
    ConfigError,
    EnqueueIncomplete,
    IllegalTransition,
    JobNotFound,
    TaskNotImportable,
    UnknownTask,
)
from jobq.job import DEFAULT_MAX_LOST, FINISHED, Job, JobRecord, Status
from jobq.limits import JobLimits, Limits, limits_of
from jobq.periodic import PeriodicSpec, check_catch_up, make_schedule
from jobq.retry import Backoff
from jobq.serializer import encode_call
from jobq.task import (
    TASK_OPTIONS,
    Call,
    EnqueueOptions,
    Task,
    TaskOptions,
    check_exception_types,
    task_name,
)

if TYPE_CHECKING:
    from jobq.workflow import Plan, WorkflowHandle

log = logging.getLogger("jobq")
F = TypeVar("F", bound=Callable[..., Any])
# A worker refreshes its registry row every half lease; one not seen for this many
# leases is taken for gone.
WORKER_STALE_LEASES = 3


class App:
    """A jobq application: where jobs are stored and which tasks exist.

    ``App()`` reads ``$JOBQ_URL`` (default ``sqlite:///jobq.db``); options such as
    ``lease=30.0`` are checked by name and a misspelt one is refused.
    """

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self.settings: Settings = load_settings({"url": url, **options})
        backend_kind(self.settings.url)  # a wrong scheme fails here, not at first enqueue
        self.tasks: dict[str, Task[..., Any]] = {}
        # Periodic tasks this App defines, by task name (their tasks are in ``tasks`` too).
        self.periodic_tasks: dict[str, PeriodicSpec] = {}
        self._backend: Backend | None = None

    def __repr__(self) -> str:
        return f"<jobq.App {redact_url(self.settings.url)}>"

    @property
    def backend(self) -> Backend:
        """The store; opened on first use, so nothing connects at import time."""
        if self._backend is None:
            self._backend = open_backend(self.settings)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def reconfigure(self, **options: Any) -> None:
        """Change settings after the App was made, e.g. ``app.reconfigure(url=...)`` to
        point it at another store (the CLI's ``--url``, a test's own store). Options are
        checked as ``App()`` checks them; the current store connection is closed."""
        check_names("option", options, [f.name for f in fields(Settings)])
        settings = dataclasses.replace(self.settings, **options)
        backend_kind(settings.url)
        self.close()
        self.settings = settings

    def import_tasks(self) -> None:
        """Import the modules named by ``include=``, registering the tasks they define.

        Workers and the CLI call this after loading the App; a module of yours that
        imports the App can be named here without a circular import."""
        for module in self.settings.include:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise TaskNotImportable(
                    f"include={module!r}: cannot import it ({exc}); give a module name as "
                    "you would import it (myapp.reports), importable from the worker's "
                    "folder or PYTHONPATH"
                ) from None

    def migrate(self) -> int:
        """Create or upgrade the store's schema; return its version. Also logs a warning
        for each setting of the store that can lose jobs (a Redis without persistence)."""
        version = self.backend.migrate()
        for warning in self.backend.durability_warnings():
            log.warning(warning, extra={"action": "store_warning"})
        return version

    # -- registering tasks --------------------------------------------------------------

    @overload
    def task(self, fn: F, /) -> Task[..., Any]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        retries: int = 0,
        timeout: float | None = None,
        queue: str | None = None,
        priority: int = 0,
        retry_on: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        dont_retry_on: Sequence[type[BaseException]] | type[BaseException] = (),
        backoff: Backoff | None = None,
        max_lost: int = DEFAULT_MAX_LOST,
        rate_limit: str | None = None,
        rate_burst: int = 1,
        concurrency_limit: int | None = None,
        limit_key: Callable[..., Any] | str | None = None,
    ) -> Callable[[F], Task[..., Any]]: ...

    def task(self, fn: Any = None, /, **options: Any) -> Any:  # type: ignore[misc]
        """Register a function as a task: ``@app.task`` or ``@app.task(retries=3, …)``."""
        check_names("task option", options, TASK_OPTIONS)
        if fn is not None:
            return self._register(fn, **options)
        return lambda f: self._register(f, **options)

    def _register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        timeout: float | None = None,
        queue: str | None = None,
        priority: int = 0,
        retry_on: Sequence[type[BaseException]] | type[BaseException] = (Exception,),
        dont_retry_on: Sequence[type[BaseException]] | type[BaseException] = (),
        backoff: Backoff | None = None,
        max_lost: int = DEFAULT_MAX_LOST,
        rate_limit: str | None = None,
        rate_burst: int = 1,
        concurrency_limit: int | None = None,
        limit_key: Callable[..., Any] | str | None = None,
    ) -> Task[..., Any]:
        if not callable(fn):
            raise ConfigError(f"@app.task needs a function, got {fn!r}")
        options = TaskOptions(
            queue=self.settings.default_queue if queue is None else queue,
            priority=priority,
            retries=retries,
            timeout=timeout,
            backoff=backoff or Backoff(),
            retry_on=check_exception_types("retry_on", retry_on),
            dont_retry_on=check_exception_types("dont_retry_on", dont_retry_on),
            max_lost=max_lost,
            limits=Limits(rate_limit, rate_burst, concurrency_limit, limit_key),
        )
        registered = task_name(fn) if name is None else name
        if not isinstance(registered, str) or not registered or "\x00" in registered:
            raise ConfigError(
                f"name= must be a non-empty string without NUL, got {registered!r}"
            )
        existing = self.tasks.get(registered)
        if existing is not None and existing.fn is not fn:
            raise ConfigError(
                f"a task named {registered!r} is already registered ({existing.fn!r}); "
                "give one of them another name="
            )
        task: Task[..., Any] = Task(self, fn, registered, options)
        self.tasks[registered] = task
        return task

    def periodic(
        self,
        *,
        cron: str | None = None,
        every: float | timedelta | None = None,
        tz: str | None = None,
        catch_up: str = "latest",
        **options: Any,
    ) -> Callable[[F], Task[..., Any]]:
        """Register a function as a task that the workers also run on a schedule, one job
        per tick: ``@app.periodic(cron="*/5 * * * *", tz="Europe/Berlin")`` or
        ``@app.periodic(every=timedelta(minutes=5))`` (or seconds). Takes the options of
        ``@app.task``; ``catch_up`` is ``"latest"``, ``"none"`` or ``"all"`` (see
        docs/periodic.md). The function is called with no arguments."""
        check_names("periodic option", options, TASK_OPTIONS)
        schedule = make_schedule(cron=cron, every=every, tz=tz)
        policy = check_catch_up(catch_up)

        def decorate(fn: F) -> Task[..., Any]:
            _check_no_arguments(fn)
            task = self._register(fn, **options)
            self.periodic_tasks[task.name] = PeriodicSpec.of_task(task.name, schedule, policy,
                                                                  task.options)
            return task

        return decorate

    def get_task(self, name: str) -> Task[..., Any]:
        """The task registered under ``name``, or ``UnknownTask`` naming the near misses."""
        if not isinstance(name, str):
            raise UnknownTask(
                f"a task is named by a string, got {name!r}; to enqueue a Task object, call "
                "its .enqueue(...)"
            )
        try:
            return self.tasks[name]
        except KeyError:
            import difflib

            near = difflib.get_close_matches(name, self.tasks, n=3)
            hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
            known = (f" (registered: {', '.join(sorted(self.tasks)) or 'none'}; a task defined "
                     "in another module is found once the App names it in include=)"
                     if not near else "")
            raise UnknownTask(f"no task named {name!r}{hint}{known}") from None

    # -- enqueueing ---------------------------------------------------------------------

    def _new_job(self, call: Call, now: float, job_id: str | None = None,
                 encoded: tuple[str, str] | None = None,
                 limited: JobLimits | bool | None = False) -> NewJob:
        """The job to store for ``call``; ``limited`` is its limits when already worked
        out (``False``: not yet)."""
        task, opts = call.task, call.options
        defaults = task.options
        run_at = now
        if opts.delay:
            run_at = now + opts.delay
        elif opts.at is not None:  # EnqueueOptions made sure it is timezone-aware
            run_at = opts.at.timestamp()
        args, kwargs = encoded or encode_call(task.name, call.args, call.kwargs)
        if limited is False:
            limited = limits_of(call)
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
            *(limited or ()),  # type: ignore[misc]
        )

    def _job(self, call: Call, stored: NewJob | str) -> Job:
        if isinstance(stored, str):  # an idempotency key matched a live job
            job = self.get_job(stored)
            if job is None and call.options.connection is not None:
                # The match may be the caller's own uncommitted job: read it through it.
                backend = self.backend
                record = (backend.get_in(call.options.connection, stored)
                          if isinstance(backend, TransactionalBackend) else None)
                job = None if record is None else Job(self, record)
            if job is None:
                raise JobNotFound(f"job {stored} vanished while being read")
            return job
        return Job._deferred(self, stored.id, _record_of, stored, call)

    def enqueue_call(self, call: Call) -> Job:
        """Enqueue one ``Call``."""
        if call.task.app is not self:
            raise ConfigError(f"task {call.task.name!r} belongs to another App")
        call.task.signature.check(call.task.name, call.args, call.kwargs)
        if call.options.depends_on:
            from jobq.workflow import Plan, Planned

            planned = Planned(call, list(call.options.depends_on))
            return self._enqueue_planned(Plan([planned], call)).jobs[0]
        new = self._new_job(call, time.time())
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
            jobs[id(planned.call)] = Job._deferred(self, done.id, _record_of, done, call)
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
                handles.append(Job._deferred(self, new.id, _record_of, new, call))
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
                handles[i] = Job._deferred(self, found, self._stored_record, found)
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

    # -- queries --------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        record = self.backend.get(job_id)
        return None if record is None else Job(self, record)

    @checked_keywords
    def jobs(
        self,
        status: Status | str | None = None,
        task: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs matching the filters, newest first."""
        for name, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number ≥ 0, got {value!r}")
        wanted = None if status is None else _status(status)
        query = JobFilter(status=wanted, task=task, queue=queue, limit=limit, offset=offset)
        return [Job(self, r) for r in self.backend.list_jobs(query)]

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of jobs by queue, then status: ``{"default": {"pending": 3, …}}``."""
        return self.backend.stats()

    def workers(self) -> list[WorkerInfo]:
        """The workers running on this store (seen within the last few leases), oldest
        first, with their host, pid, queues and registered tasks."""
        return self.backend.workers(WORKER_STALE_LEASES * self.settings.lease)

    def waiting_for_tasks(self) -> list[WaitingTask]:
        """Per task, the jobs waiting for a task that no running worker has registered:
        workers that lack it handed them back (a rolling deploy not finished, or a task
        removed from the code while jobs of it were still queued)."""
        waiting = self.backend.waiting_tasks()
        if not waiting:
            return []
        known = {task for worker in self.workers() for task in worker.tasks}
        return [w for w in waiting if w.task not in known]

    def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again, with a fresh set of attempts."""
        record = self.backend.get(job_id)
        if record is None:
            raise self._not_found(job_id)
        # The store's write is conditional, so a pending job would come back unchanged and
        # look retried: check first to say why nothing happened.
        if record.status in (Status.FAILED, Status.CANCELLED):
            record = self.backend.retry(job_id)
            if record is None:
                raise JobNotFound(f"job {job_id!r} was deleted while being retried")
            # blocked: it waits again for a dependency that has not succeeded yet.
            if record.status in (Status.PENDING, Status.SCHEDULED, Status.BLOCKED):
                log.info("retry %s", job_id, extra={"job_id": job_id, "task": record.task,
                                                     "action": "retry"})
                return Job(self, record)
        raise IllegalTransition(
            f"job {job_id} is {record.status.value}; only failed or cancelled jobs can be "
            "retried"
        )

    def _not_found(self, job_id: str) -> JobNotFound:
        return JobNotFound(f"no job with id {job_id!r} in {redact_url(self.settings.url)}")

    def cancel(self, job_id: str) -> bool:
        """Cancel a job by id, as ``Job.cancel`` does: True if it is now cancelled or, if
        it was running, asked to stop; False if it had already finished."""
        job = self.get_job(job_id)
        if job is None:
            raise self._not_found(job_id)
        return job.cancel()

    @checked_keywords
    def purge(self, older_than: float = 0.0,
              statuses: Iterable[Status | str] = (Status.SUCCEEDED,)) -> int:
        """Delete finished jobs that finished more than ``older_than`` seconds ago."""
        wanted = [_status(s) for s in ([statuses] if isinstance(statuses, str) else statuses)]
        live = [s.value for s in wanted if s not in FINISHED]
        if live:
            raise ConfigError(f"only finished jobs can be purged, not {live}")
        if older_than < 0:
            raise ConfigError(f"older_than must be zero or more seconds, got {older_than}")
        return self.backend.purge(older_than, wanted)

    # -- workers ----------------------------------------------------------------------------

    def run_worker(
        self,
        concurrency: int = 4,
        pool: str = "thread",
        queues: Sequence[str] | None = None,
        burst: bool = False,
        **options: Any,
    ) -> None:
        """Run a worker in this process until SIGTERM/SIGINT (or, with ``burst``, until
        nothing is left to do). ``options`` are the other worker options (``grace``,
        ``kill_after``, ``max_tasks_per_child``, ...; see ``jobq.worker.WorkerOptions``),
        checked by name."""
        from jobq.worker import Worker

        Worker(self, concurrency=concurrency, pool=pool, queues=queues, burst=burst,
               **options).run()


def _check_no_arguments(fn: Callable[..., Any]) -> None:
    import inspect

    if not callable(fn):
        raise ConfigError(f"@app.periodic needs a function, got {fn!r}")
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise ConfigError(
            f"{task_name(fn)} cannot be a periodic task: its jobs call it with no "
            "arguments, so every parameter needs a default"
        ) from None
    except ValueError:  # no signature to read (a builtin): let it be
        pass


def _status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ConfigError(
            f"unknown status {value!r}; use one of {', '.join(s.value for s in Status)}"
        ) from None


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
