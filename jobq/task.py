"""Tasks: registered functions, their default options, and calls waiting to be enqueued."""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from jobq.config import check_names, checked_keywords
from jobq.errors import ArgumentError, ConfigError
from jobq.job import DEFAULT_MAX_LOST, Job
from jobq.limits import NO_LIMITS, Limits
from jobq.retry import Backoff, RetryPolicy

if TYPE_CHECKING:
    from jobq.app import App

P = ParamSpec("P")
R = TypeVar("R")


def _check_seconds(name: str, value: float | None) -> None:
    if value is None:
        return
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        raise ConfigError(f"{name} must be zero or a positive number of seconds, got {value!r}")


# Priorities fit a 32-bit integer column in every store.
PRIORITY_RANGE = (-(2**31), 2**31 - 1)


def _check_int(name: str, value: object) -> None:
    # bool is an int to Python, but priority=True is a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")


def _check_max_lost(name: str, value: object) -> None:
    _check_int(name, value)
    if value < 1:  # type: ignore[operator]
        raise ConfigError(f"{name} must be a whole number ≥ 1 (leases a job may lose before "
                          f"it fails with WorkerLost), got {value!r}")


def _check_priority(name: str, value: object) -> None:
    _check_int(name, value)
    low, high = PRIORITY_RANGE
    if not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"{name} must be between {low} and {high}, got {value!r}")


def _check_name(name: str, value: object) -> None:
    # NUL is refused here, not by the store: PostgreSQL's text cannot hold it.
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ConfigError(f"{name} must be a non-empty string without NUL, got {value!r}")


@dataclass(frozen=True)
class TaskOptions:
    """A task's defaults, fixed by ``@app.task(...)``."""

    queue: str = "default"
    priority: int = 0
    retries: int = 0
    timeout: float | None = None
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    dont_retry_on: tuple[type[BaseException], ...] = ()
    max_lost: int = DEFAULT_MAX_LOST
    limits: Limits = NO_LIMITS

    def __post_init__(self) -> None:
        _check_max_lost("max_lost", self.max_lost)
        _check_int("retries", self.retries)
        if self.retries < 0:
            raise ConfigError(f"retries must be a whole number ≥ 0, got {self.retries!r}")
        _check_seconds("timeout", self.timeout)
        if self.timeout == 0:
            raise ConfigError("timeout must be positive seconds or None, got 0")
        _check_priority("priority", self.priority)
        _check_name("queue", self.queue)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.retries, self.backoff, self.retry_on, self.dont_retry_on)


@dataclass(frozen=True)
class EnqueueOptions:
    """Per-enqueue overrides from ``task.with_options(...)``."""

    delay: float | None = None
    at: datetime | None = None
    priority: int | None = None
    queue: str | None = None
    key: str | None = None
    connection: Any = None
    # Ids of the jobs this one waits for; Jobs and a single id are accepted and turned
    # into this tuple (in order, each once).
    depends_on: tuple[str, ...] = ()
    max_lost: int | None = None
    # Limits laid over the task's own for this enqueue (see jobq.limits).
    rate_limit: str | None = None
    rate_burst: int | None = None
    concurrency_limit: int | None = None
    limit_key: Callable[..., Any] | str | None = None

    def __post_init__(self) -> None:
        if any(getattr(self, name) is not None for name in LIMIT_OPTIONS):
            self._check_limits()
        if self.max_lost is not None:
            _check_max_lost("max_lost=", self.max_lost)
        if self.depends_on != ():
            object.__setattr__(self, "depends_on", dependency_ids(self.depends_on))
            if self.key is not None or self.connection is not None:
                raise ConfigError(
                    "depends_on= cannot be combined with key= or connection= yet; enqueue "
                    "the job without them, or wait for its dependencies yourself"
                )
        _check_seconds("delay", self.delay)
        if self.delay is not None and self.at is not None:
            raise ConfigError("give either delay= or at=, not both")
        if self.at is not None and not isinstance(self.at, datetime):
            raise ConfigError(f"at= must be a datetime, got {type(self.at).__name__}")
        if self.at is not None and self.at.utcoffset() is None:
            raise ConfigError(
                f"at={self.at!r} has no timezone; pass an aware datetime such as "
                "datetime.now(UTC) + timedelta(minutes=5)"
            )
        if self.key is not None:
            _check_name("key=", self.key)
        if self.queue is not None:
            _check_name("queue=", self.queue)
        if self.priority is not None:
            _check_priority("priority=", self.priority)

    def _check_limits(self) -> None:
        # A limit_key alone is valid here: it re-keys the task's own limits.
        Limits(rate_limit="1/s" if self.rate_limit is None else self.rate_limit,
               rate_burst=1 if self.rate_burst is None else self.rate_burst,
               concurrency_limit=self.concurrency_limit, limit_key=self.limit_key)


def dependency_ids(value: Any) -> tuple[str, ...]:
    """``depends_on=`` as a tuple of job ids: Jobs or ids, one or many, each kept once."""
    items = [value] if isinstance(value, str | Job) else value
    try:
        items = list(items)
    except TypeError:
        raise ConfigError(
            f"depends_on= takes jobs or job ids (one, or a list of them), got {value!r}"
        ) from None
    ids: dict[str, None] = {}
    for item in items:
        job_id = item.id if isinstance(item, Job) else item
        if not isinstance(job_id, str) or not job_id:
            raise ConfigError(
                f"depends_on= takes jobs (what enqueue returns) or their ids, got {item!r}"
            )
        ids[job_id] = None
    return tuple(ids)


ENQUEUE_OPTIONS = tuple(f.name for f in fields(EnqueueOptions))
LIMIT_OPTIONS = tuple(f.name for f in fields(Limits))
TASK_OPTIONS = ("name", *(f.name for f in fields(TaskOptions) if f.name != "limits"),
                *LIMIT_OPTIONS)


NO_OPTIONS = EnqueueOptions()


@dataclass(frozen=True, slots=True)
class Call:
    """One invocation of a task, not yet enqueued: ``task.call(...)``."""

    task: Task[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    # One shared default: EnqueueOptions is frozen, and building one per call checks
    # every option again.
    options: EnqueueOptions = NO_OPTIONS
    # The id its job gets, when fixed before enqueueing: the calls an EnqueueIncomplete
    # error carries have theirs, so enqueueing them again stores none of them twice.
    id: str | None = None

    def enqueue(self) -> Job:
        return self.task.app.enqueue_call(self)


class TaskWithOptions(Generic[P, R]):
    """A task plus per-enqueue options; ``enqueue`` and ``call`` as on the task."""

    def __init__(self, task: Task[P, R], options: EnqueueOptions) -> None:
        self._task = task
        self._options = options

    def with_options(self, **options: Any) -> TaskWithOptions[P, R]:
        check_names("option", options, ENQUEUE_OPTIONS)
        return TaskWithOptions(self._task, replace(self._options, **options))

    def call(self, *args: P.args, **kwargs: P.kwargs) -> Call:
        return Call(self._task, args, kwargs, self._options)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return self._task.app.enqueue_call(Call(self._task, args, kwargs, self._options))


class Signature:
    """Whether arguments fit a function, checked at enqueue: a job whose arguments its
    function cannot take could only fail. The common shapes are decided without
    ``inspect.Signature.bind``, which would cost more than storing the job."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some callables have no signature to check
            self.signature = None
            return
        params = list(self.signature.parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
        self._fewest = sum(p.default is p.empty for p in positional)
        varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        self._most = None if varargs else len(positional)
        # Keyword-only parameters without a default need the full check.
        self._simple = not any(p.kind is p.KEYWORD_ONLY and p.default is p.empty
                               for p in params)

    def check(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
        """Raise ``ArgumentError`` unless ``name``'s function can take these arguments."""
        if self.signature is None:
            return
        count = len(args)
        if (not kwargs and self._simple and count >= self._fewest
                and (self._most is None or count <= self._most)):
            return
        try:
            self._check_names(kwargs)
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            bare = self.signature.replace(
                parameters=[p.replace(annotation=p.empty)
                            for p in self.signature.parameters.values()],
                return_annotation=self.signature.empty,
            )
            raise ArgumentError(
                f"the arguments do not fit {name}{bare}: {exc}; nothing was enqueued"
            ) from None


    def _check_names(self, kwargs: dict[str, Any]) -> None:
        """Name an unknown keyword first (bind() would report a missing one instead)."""
        assert self.signature is not None
        params = self.signature.parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return
        names = [p.name for p in params if p.kind is not p.POSITIONAL_ONLY]
        for given in kwargs:
            if given not in names:
                near = difflib.get_close_matches(given, names, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise TypeError(f"got an unexpected keyword argument {given!r}{hint}")


class Task(Generic[P, R]):
    """A function registered on an ``App``. Calling it runs it here and now."""

    def __init__(self, app: App, fn: Callable[P, R], name: str, options: TaskOptions) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = Signature(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def call(self, *args: P.args, **kwargs: P.kwargs) -> Call:
        """A call to enqueue later: with ``app.enqueue_many`` or in a workflow."""
        return Call(self, args, kwargs)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Store a job that runs this task with these arguments; return its handle at once."""
        return self.app.enqueue_call(Call(self, args, kwargs))

    @checked_keywords
    def with_options(
        self,
        *,
        delay: float | None = None,
        at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        key: str | None = None,
        connection: Any = None,
        depends_on: Any = (),
        max_lost: int | None = None,
        rate_limit: str | None = None,
        rate_burst: int | None = None,
        concurrency_limit: int | None = None,
        limit_key: Callable[..., Any] | str | None = None,
    ) -> TaskWithOptions[P, R]:
        """Override options for one enqueue: ``task.with_options(delay=60).enqueue(...)``.

        ``depends_on=[job, "id"]`` holds the job ``blocked`` until those jobs succeed;
        ``rate_limit``, ``rate_burst``, ``concurrency_limit`` and ``limit_key`` replace the
        task's own limits for this job.
        """
        return TaskWithOptions(
            self, EnqueueOptions(delay, at, priority, queue, key, connection, depends_on,
                                 max_lost, rate_limit, rate_burst, concurrency_limit,
                                 limit_key)
        )


def task_name(fn: Callable[..., Any]) -> str:
    """The default registered name: ``module.qualname``."""
    return f"{fn.__module__}.{fn.__qualname__}"


def check_exception_types(name: str, value: Sequence[Any] | type[BaseException]) -> tuple[
    type[BaseException], ...
]:
    if isinstance(value, type | BaseException | str) or not isinstance(value, Iterable):
        items: tuple[Any, ...] = (value,)
    else:
        items = tuple(value)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigError(f"{name} must be exception classes, got {item!r}")
    return items
