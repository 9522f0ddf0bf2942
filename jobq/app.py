"""The ``App``: configuration, the task registry, enqueueing (``enqueueing.py``) and
queries."""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import timedelta
from typing import Any, TypeVar, overload

from jobq.backends import backend_kind, open_backend
from jobq.backends.base import (
    Backend,
    JobFilter,
    WaitingTask,
    WorkerInfo,
)
from jobq.config import Settings, check_names, checked_keywords, load_settings, redact_url
from jobq.enqueueing import Enqueueing, new_job_id, new_job_ids
from jobq.errors import (
    ConfigError,
    IllegalTransition,
    JobNotFound,
    TaskNotImportable,
    UnknownTask,
)
from jobq.job import DEFAULT_MAX_LOST, FINISHED, Job, Status
from jobq.limits import Limits
from jobq.periodic import PeriodicSpec, check_catch_up, make_schedule
from jobq.retry import Backoff
from jobq.task import (
    TASK_OPTIONS,
    Task,
    TaskOptions,
    check_exception_types,
    task_name,
)

__all__ = ["App", "new_job_id", "new_job_ids"]

log = logging.getLogger("jobq")
F = TypeVar("F", bound=Callable[..., Any])
# A worker refreshes its registry row every half lease; one not seen for this many
# leases is taken for gone.
WORKER_STALE_LEASES = 3


class App(Enqueueing):
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
