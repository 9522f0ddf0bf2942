"""Rate limits and concurrency limits: the task options, checked when a task is defined,
the limit key computed at enqueue, and the admission rule every store applies when a
worker claims (see docs/limits.md).

A limited job carries its limit key and its limits in its row. The state a key needs is
constant in size: for the rate, one time (GCRA's "theoretical arrival time"); for
concurrency, nothing stored at all: the store counts the key's running jobs.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from jobq.errors import ConfigError, LimitKeyError

if TYPE_CHECKING:
    from jobq.task import Call

PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([A-Za-z]*)\s*$")
# How long a job held by its concurrency limit waits before a claim looks at it again
# (seconds): a slot frees when a running job of its key ends, which no claim can know
# ahead. Short, so the key's slots stay used; a held job costs a claim this often.
CONCURRENCY_RECHECK = 0.2


def parse_rate(text: object) -> float:
    """``"10/s"`` (or ``/m``, ``/h``) as the seconds between two starts."""
    if not isinstance(text, str):
        raise ConfigError(f'rate_limit must be a string such as "10/s", "100/m" or "1000/h", '
                          f"got {text!r}")
    match = _RATE.match(text)
    if match is None:
        raise ConfigError(f'rate_limit={text!r} is not a rate; write starts per period: '
                          '"10/s", "100/m" or "1000/h"')
    count, unit = float(match[1]), match[2].lower()
    if unit not in PERIODS:
        near = difflib.get_close_matches(unit, ["sec", "min", "hour"], n=1, cutoff=0.3)
        best = (near[0][0] if near else "s")
        raise ConfigError(f'rate_limit={text!r}: the period must be s, m or h; did you mean '
                          f'"{match[1]}/{best}"?')
    if count <= 0 or not math.isfinite(count):
        raise ConfigError(f'rate_limit={text!r} admits nothing; give at least one start per '
                          f'period, e.g. "1/{unit}", or no rate_limit at all')
    return PERIODS[unit] / count


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number ≥ 1, got {value!r}")


@dataclass(frozen=True)
class Limits:
    """A task's limits as ``@app.task`` (or ``with_options``) gave them.

    ``key`` is a function of the task's arguments returning the limit key (a string),
    a fixed string, or None: the task as a whole is limited, under its own name.
    """

    rate_limit: str | None = None
    rate_burst: int = 1
    concurrency_limit: int | None = None
    limit_key: Callable[..., Any] | str | None = None

    def __post_init__(self) -> None:
        if self.rate_limit is not None:
            parse_rate(self.rate_limit)
        _check_positive("rate_burst", self.rate_burst)
        if self.rate_burst != 1 and self.rate_limit is None:
            raise ConfigError("rate_burst= needs a rate_limit= to apply to")
        if self.concurrency_limit is not None:
            _check_positive("concurrency_limit", self.concurrency_limit)
        key = self.limit_key
        if key is not None and not callable(key) and not _is_key(key):
            raise ConfigError(f"limit_key must be a function of the task's arguments "
                              f"returning a string, or a string, got {key!r}")
        if key is not None and not self.active:
            raise ConfigError("limit_key= needs rate_limit= or concurrency_limit= to apply to")

    @property
    def active(self) -> bool:
        return self.rate_limit is not None or self.concurrency_limit is not None

    @cached_property  # read for every limited job enqueued: parse the rate once
    def interval(self) -> float | None:
        return None if self.rate_limit is None else parse_rate(self.rate_limit)


class JobLimits(NamedTuple):
    """What a limited job carries into the store."""

    key: str
    concurrency: int | None
    interval: float | None  # seconds between starts
    burst: int


NO_LIMITS = Limits()


def _is_key(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "\x00" not in value


def merge(task_limits: Limits, rate_limit: str | None, rate_burst: int | None,
          concurrency_limit: int | None, limit_key: Callable[..., Any] | str | None) -> Limits:
    """The task's limits with the ones ``with_options`` gave laid over them."""
    if rate_limit is None and rate_burst is None and concurrency_limit is None \
            and limit_key is None:
        return task_limits
    return Limits(
        rate_limit or task_limits.rate_limit,
        task_limits.rate_burst if rate_burst is None else rate_burst,
        concurrency_limit or task_limits.concurrency_limit,
        limit_key or task_limits.limit_key,
    )


def job_limits(task: str, limits: Limits, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> JobLimits | None:
    """The limit key and limits of one job of ``task``; raises ``LimitKeyError`` when the
    key function raises or returns no usable string."""
    if not limits.active:
        return None
    key_fn = limits.limit_key
    if key_fn is None:
        key: object = task
    elif isinstance(key_fn, str):
        key = key_fn
    else:
        try:
            key = key_fn(*args, **kwargs)
        except Exception as exc:
            raise LimitKeyError(
                f"the limit_key function of {task} raised {type(exc).__name__}: {exc}; "
                "nothing was enqueued"
            ) from exc
        if not _is_key(key):
            raise LimitKeyError(
                f"the limit_key function of {task} returned {key!r}; it must return a "
                "non-empty string (without NUL); nothing was enqueued"
            )
    assert isinstance(key, str)
    return JobLimits(key, limits.concurrency_limit, limits.interval, limits.rate_burst)


def limits_of(call: Call) -> JobLimits | None:
    """The limit key and limits of ``call``'s job: the task's, with ``with_options``'s
    laid over them. Runs the task's key function."""
    opts = call.options
    limits = merge(call.task.options.limits, opts.rate_limit, opts.rate_burst,
                   opts.concurrency_limit, opts.limit_key)
    return job_limits(call.task.name, limits, call.args, call.kwargs)


class Admission(NamedTuple):
    """A claim's verdict on one limited job: admitted, or held until ``retry_at``."""

    admitted: bool
    retry_at: float


def admit(now: float, tat: float | None, running: int, limits: JobLimits) -> tuple[
        Admission, float | None]:
    """GCRA for the rate, a count for concurrency. ``tat`` is the key's theoretical
    arrival time (None: never started), ``running`` its running jobs. Returns the
    verdict and the key's new theoretical arrival time."""
    if limits.concurrency is not None and running >= limits.concurrency:
        return Admission(False, now + CONCURRENCY_RECHECK), tat
    if limits.interval is None:
        return Admission(True, now), tat
    # A start less than one interval late keeps its place in the schedule: a claim comes
    # a little after the job's time, and counting from that moment instead would lose
    # those moments, every start, from the rate.
    base = tat if tat is not None and tat > now - limits.interval else now
    allowed_at = base - (limits.burst - 1) * limits.interval
    if allowed_at > now:
        return Admission(False, allowed_at), tat
    return Admission(True, now), base + limits.interval
