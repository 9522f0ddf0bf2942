"""A worker's options: one frozen object, checked when the worker is made.

A misspelt option (``Worker(app, concurency=2)``) is refused naming the nearest valid
one, as a task's are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from jobq.config import check_names
from jobq.errors import ConfigError
from jobq.worker.hooks import Hook
from jobq.worker.leader import Clock
from jobq.worker.pools import POOLS

# Options that only the process pool uses: given with another pool, they are refused
# rather than silently ignored.
PROCESS_ONLY = ("max_tasks_per_child", "max_memory_per_child", "app_ref")


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs.

    concurrency: jobs run at the same time.
    pool: what runs them: ``thread``, ``process`` or ``async``.
    queues: the queues it takes jobs from (a list, or ``"a,b"``); default: the app's.
    burst: return when nothing is left to do.
    grace: seconds a stopping worker lets running jobs finish before handing them back.
    prefetch: jobs claimed beyond ``concurrency``, so the pool never waits for the store.
    name: the worker's id in the store (default: host:pid:random).
    kill_after: seconds a task may run past its ``timeout`` before the pool stops
        waiting: the process pool kills it, the async pool abandons it.
    max_tasks_per_child: the process pool replaces a child after this many jobs.
    max_memory_per_child: the process pool replaces a child whose resident memory is
        above this many MiB after a job.
    app_ref: ``module:attr`` of the App, which the process pool's children import.
    hooks: ``Hook`` objects told of every claim and outcome, after logging.
    periodic_clock: the clock the periodic tick loop reads (tests give a skewed one).
    """

    concurrency: int = 4
    pool: str = "thread"
    queues: tuple[str, ...] = ()
    burst: bool = False
    grace: float = 30.0
    prefetch: int | None = None
    name: str | None = None
    kill_after: float = 5.0
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None
    app_ref: str | None = None
    hooks: tuple[Hook, ...] = ()
    periodic_clock: Clock | None = None

    def __post_init__(self) -> None:
        _whole("concurrency", self.concurrency, 1)
        if self.pool not in POOLS:
            raise ConfigError(
                f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}"
            )
        for name in ("grace", "kill_after"):
            _seconds(name, getattr(self, name))
        if self.prefetch is not None:
            _whole("prefetch", self.prefetch, 0)
        for name in ("max_tasks_per_child", "max_memory_per_child"):
            if getattr(self, name) is not None:
                _whole(name, getattr(self, name), 1)
        if self.pool != "process":
            given = [name for name in PROCESS_ONLY if getattr(self, name) is not None]
            if given:
                raise ConfigError(f"{given[0]} applies to pool='process' only, not to "
                                  f"pool={self.pool!r}")
        if self.app_ref is not None and (not isinstance(self.app_ref, str)
                                         or ":" not in self.app_ref):
            raise ConfigError(f"app_ref must be 'module:attr', got {self.app_ref!r}")
        bad = [hook for hook in self.hooks if not isinstance(hook, Hook)]
        if bad:
            raise ConfigError(f"hooks must be jobq.worker.Hook objects, got {bad[0]!r}")

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> WorkerOptions:
        """Options given by name; an unknown name is refused naming the nearest one."""
        check_names("worker option", options, WORKER_OPTIONS)
        values = dict(options)
        if "queues" in values:
            values["queues"] = _queues(values["queues"])
        if "hooks" in values:
            values["hooks"] = tuple(values["hooks"] or ())
        return cls(**values)


WORKER_OPTIONS = tuple(f.name for f in fields(WorkerOptions))


def _whole(name: str, value: object, least: int) -> None:
    # bool is an int to Python, but concurrency=True is a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} must be a whole number ≥ {least}, got {value!r}")


def _seconds(name: str, value: object) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        raise ConfigError(f"{name} must be zero or more seconds, got {value!r}")


def _queues(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(q.strip() for q in value.split(",") if q.strip())
    names = tuple(value)
    if not all(isinstance(q, str) and q for q in names):
        raise ConfigError(f"queues must be non-empty names, got {value!r}")
    return names
