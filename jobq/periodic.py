"""Periodic schedules: cron and ``every=``, time zones, catch-up, and the definitions the
workers keep in the store.

Everything here is pure: times are integer milliseconds since the Unix epoch (UTC), and
"now" is always passed in. The tick loop that elects a leader and fires ticks lives in
``jobq.worker.leader``; the guarantee is written down in docs/periodic.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobq.errors import ConfigError, LimitKeyError
from jobq.job import DEFAULT_MAX_LOST
from jobq.limits import JobLimits, Limits, job_limits

if TYPE_CHECKING:
    from jobq.task import TaskOptions

CATCH_UP = ("latest", "none", "all")
# catch_up="all" fires at most this many missed ticks of one schedule, the newest.
CATCH_UP_CAP = 100
# A tick no leader reached within this many leases of its time counts as missed: a
# takeover after a leader died takes up to about one lease and a renewal interval.
GRACE_LEASES = 2.0
# Every worker writes its definitions again this often (seconds on the store's clock);
# a definition nobody has written for EXPIRES seconds belongs to no live release and
# stops firing; one nobody has written for FORGET seconds is deleted.
REFRESH = 60.0
EXPIRES = 300.0
FORGET = 7 * 24 * 3600.0

_DAY_MS = 24 * 3600 * 1000
_NICKNAMES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (("minute", 60), ("hour", 24), ("day-of-month", 31), ("month", 12),
           ("day-of-week", 7))


# -- schedules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Every:
    """A tick every ``period_ms`` milliseconds, aligned to the Unix epoch: every process
    computes the same ticks, whenever it started."""

    period_ms: int

    def next_after(self, after: int) -> int:
        return (after // self.period_ms + 1) * self.period_ms

    def ticks(self, after: int, upto: int, limit: int) -> list[int]:
        """The newest ``limit`` ticks in (after, upto], oldest first."""
        first, last = after // self.period_ms + 1, upto // self.period_ms
        return [k * self.period_ms for k in range(max(first, last - limit + 1), last + 1)]

    def describe(self) -> str:
        return f"every {_duration(self.period_ms)}"

    def as_json(self) -> dict[str, Any]:
        return {"every_ms": self.period_ms}


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression read in time zone ``tz``, with Debian cron's rules
    across a DST change (cronsim): a local time that does not exist fires just after the
    gap, an ambiguous one fires once, and a wildcard hour fires at every real instant."""

    expr: str
    tz: str

    @property
    def zone(self) -> tzinfo:
        return UTC if self.tz == "UTC" else ZoneInfo(self.tz)

    def _forward(self, after: int) -> Iterator[int]:
        from cronsim import CronSim

        start = datetime.fromtimestamp(after / 1000, self.zone)
        try:
            for moment in CronSim(self.expr, start):
                tick = round(moment.timestamp() * 1000)
                # The first occurrence of an ambiguous time can come out after a start
                # inside its second occurrence: it lies before the start, so skip it.
                if tick > after:
                    yield tick
        except StopIteration:  # cronsim gives up after 50 years without a match
            return

    def next_after(self, after: int) -> int | None:
        return next(self._forward(after), None)

    def ticks(self, after: int, upto: int, limit: int) -> list[int]:
        """The newest ``limit`` ticks in (after, upto], oldest first. Forward iteration
        decides; over a long window, iterating backwards first finds where to start."""
        start = after
        if upto - after > 2 * _DAY_MS:
            start = max(after, self._about_limit_back(upto, limit) - _DAY_MS)
        found: deque[int] = deque(maxlen=limit)
        for tick in self._forward(start):
            if tick > upto:
                break
            found.append(tick)
        return [t for t in found if t > after]

    def _about_limit_back(self, upto: int, limit: int) -> int:
        from cronsim import CronSim

        moment = datetime.fromtimestamp(upto // 1000 + 1, self.zone)
        back = CronSim(self.expr, moment, reverse=True)
        earliest = upto
        try:
            for _ in range(limit):
                earliest = round(next(back).timestamp() * 1000)
        except StopIteration:
            return 0
        return earliest

    def describe(self) -> str:
        return f"cron {self.expr!r}" + ("" if self.tz == "UTC" else f" ({self.tz})")

    def as_json(self) -> dict[str, Any]:
        return {"cron": self.expr, "tz": self.tz}


Schedule = Every | Cron


def make_schedule(cron: Any = None, every: Any = None, tz: Any = None) -> Schedule:
    """The schedule ``@app.periodic`` was given; ``ConfigError`` naming the field when it
    is wrong."""
    if (cron is None) == (every is None):
        raise ConfigError(
            "@app.periodic needs exactly one of cron= (e.g. cron='*/5 * * * *') or every= "
            f"(seconds or a timedelta), got cron={cron!r}, every={every!r}"
        )
    if every is not None:
        if tz is not None:
            raise ConfigError(f"tz={tz!r} applies to cron= only: every= ticks are aligned "
                              "to the Unix epoch in UTC; drop tz=")
        return Every(_period_ms(every))
    return Cron(_check_cron(cron), _check_tz("UTC" if tz is None else tz))


def _period_ms(every: Any) -> int:
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
            or not math.isfinite(seconds) or seconds <= 0):
        raise ConfigError(
            f"every must be a positive number of seconds or a timedelta, got {every!r}"
        )
    period = round(seconds * 1000)
    if period < 1:
        raise ConfigError(f"every must be at least one millisecond, got {every!r}")
    return period


def _check_cron(expr: Any) -> str:
    if not isinstance(expr, str):
        raise ConfigError(f"cron must be a string such as '*/5 * * * *', got {expr!r}")
    text = " ".join(_NICKNAMES.get(expr.strip().lower(), expr).split())
    fields = text.split(" ")
    hint = ("; write five fields: minute hour day-of-month month day-of-week, "
            "e.g. cron='*/5 * * * *'")
    if len(fields) != 5:
        raise ConfigError(f"cron={expr!r} has {len(fields)} field(s), not 5{hint}")
    for value, (name, size) in zip(fields, _FIELDS, strict=True):
        for part in value.split(","):
            _, slash, step = part.partition("/")
            if slash and not (step.isdigit() and 1 <= int(step) <= size):
                raise ConfigError(
                    f"cron={expr!r}: the {name} step {step!r} must be 1 to {size}{hint}"
                )
    from cronsim import CronSim, CronSimError

    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ConfigError(f"cron={expr!r} is not a valid cron expression ({exc}){hint}") from None
    return text


def _check_tz(tz: Any) -> str:
    if isinstance(tz, ZoneInfo):
        tz = tz.key
    if not isinstance(tz, str) or not tz:
        raise ConfigError(f"tz must be an IANA time zone name such as 'Europe/Berlin', "
                          f"got {tz!r}")
    if tz.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown tz {tz!r}: use an IANA time zone name such as 'Europe/Berlin' or "
            "'UTC' (on Windows, pip install tzdata)"
        ) from None
    return tz


def check_catch_up(value: Any) -> str:
    if value not in CATCH_UP:
        raise ConfigError(f"unknown catch_up {value!r}; use one of {', '.join(CATCH_UP)}")
    return str(value)


def _duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


# -- definitions ---------------------------------------------------------------------------


# A spec's options that its JSON carries only when they differ from these, so that the
# hash of a definition written before they existed stays what it was.
_OPTIONAL = {"max_lost": DEFAULT_MAX_LOST, "rate_limit": None, "rate_burst": 1,
             "concurrency_limit": None, "limit_key": None}


@dataclass(frozen=True)
class PeriodicSpec:
    """What a periodic task is, as every worker that defines it writes it to the store:
    the schedule, the catch-up policy and the options its jobs get. ``limit_key`` is the
    key already worked out (a string), or None: the task's name."""

    name: str
    schedule: Schedule
    catch_up: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    max_lost: int = DEFAULT_MAX_LOST
    rate_limit: str | None = None
    rate_burst: int = 1
    concurrency_limit: int | None = None
    limit_key: str | None = None

    def __post_init__(self) -> None:
        # Worked out once (the leader asks at every tick); a stored version with bad
        # limits is unreadable, like a bad cron.
        given = Limits(self.rate_limit, self.rate_burst, self.concurrency_limit,
                       self.limit_key)
        object.__setattr__(self, "_limits", job_limits(self.name, given, (), {}))

    @classmethod
    def of_task(cls, name: str, schedule: Schedule, catch_up: str,
                options: TaskOptions) -> PeriodicSpec:
        """The spec of a task ``@app.periodic`` defines. A tick's job has no arguments,
        so a ``limit_key`` function is called once, here, with none: every tick's job
        then has the key a ``task.enqueue()`` gets. ``ConfigError`` if it cannot be."""
        limits = options.limits
        key = limits.limit_key
        if callable(key):
            key = _periodic_key(name, limits)
        return cls(name, schedule, catch_up, options.queue, options.priority,
                   options.retries + 1, options.timeout, options.max_lost,
                   limits.rate_limit, limits.rate_burst, limits.concurrency_limit, key)

    def limits(self) -> JobLimits | None:
        """The limit key and limits every job of this task carries; None: unlimited."""
        limits: JobLimits | None = self.__dict__["_limits"]
        return limits

    def to_json(self) -> str:
        body = {"schedule": self.schedule.as_json(), "catch_up": self.catch_up,
                "queue": self.queue, "priority": self.priority,
                "max_attempts": self.max_attempts, "timeout": self.timeout}
        for option, default in _OPTIONAL.items():
            if getattr(self, option) != default:
                body[option] = getattr(self, option)
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """16 hex digits naming this version of the definition (name and spec)."""
        text = self.name + "\0" + self.to_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, name: str, text: str) -> PeriodicSpec:
        """A stored definition; ``ValueError`` (or ``ConfigError``) when this jobq cannot
        read it (damaged, or written by a newer release). The options added later are
        absent from a definition written before them: their defaults."""
        body = json.loads(text)
        schedule = body["schedule"]
        made = (make_schedule(every=schedule["every_ms"] / 1000) if "every_ms" in schedule
                else make_schedule(cron=schedule["cron"], tz=schedule["tz"]))
        timeout = body["timeout"]
        options = {option: body.get(option, default) for option, default in _OPTIONAL.items()}
        options["max_lost"] = int(options["max_lost"])
        return cls(name, made, check_catch_up(body["catch_up"]), str(body["queue"]),
                   int(body["priority"]), int(body["max_attempts"]),
                   None if timeout is None else float(timeout), **options)


def _periodic_key(name: str, limits: Limits) -> str:
    """The key every job of periodic task ``name`` gets: its key function, called with
    no arguments (a tick's job has none)."""
    try:
        worked_out = job_limits(name, limits, (), {})
    except LimitKeyError as exc:
        raise ConfigError(f"@app.periodic {name}: limit_key is called with no arguments when "
                          f"a periodic task is defined (its jobs have none), and {exc}; give "
                          "a function of no arguments, or a string") from exc
    assert worked_out is not None  # a key function is only accepted beside a limit
    return worked_out.key


class Version(NamedTuple):
    """One stored version of a periodic task, as the leader reads it."""

    spec: PeriodicSpec
    first_seen: float  # seconds, when any worker first wrote this version
    seen_at: float  # seconds, when a worker last wrote it


def is_live(seen_at: float, now: float) -> bool:
    return seen_at >= now - EXPIRES


# -- catch-up --------------------------------------------------------------------------------


def due(schedule: Schedule, catch_up: str, after: int, now: int, grace: int) -> list[int]:
    """The ticks to fire now, oldest first: ticks in (after, now] no older than ``grace``
    are on time and always fire; older ones were missed, and ``catch_up`` decides: the
    newest of them if nothing is on time (``latest``), none (``none``), or up to
    ``CATCH_UP_CAP`` of them (``all``)."""
    ticks = schedule.ticks(after, now, CATCH_UP_CAP)
    if catch_up == "all":
        return ticks
    on_time = [t for t in ticks if t >= now - grace]
    if on_time or catch_up == "none":
        return on_time
    return ticks[-1:]


def plan(versions: Sequence[Version], last_tick: int | None, now: int,
         grace: int) -> list[tuple[int, PeriodicSpec]]:
    """What to fire for one periodic task, oldest tick first, over the live versions any
    release defines. A version never fires a tick from before it was first registered
    (no backfill) nor one at or before the last tick fired. A tick that several versions
    share fires once, with the options of the newest version."""
    chosen: dict[int, PeriodicSpec] = {}
    for version in sorted(versions, key=lambda v: (v.first_seen, v.spec.hash)):
        after = round(version.first_seen * 1000)
        if last_tick is not None:
            after = max(after, last_tick)
        spec = version.spec
        for tick in due(spec.schedule, spec.catch_up, after, now, grace):
            chosen[tick] = spec
    return sorted(chosen.items())


def next_tick(versions: Sequence[Version], now: int) -> int | None:
    """The earliest tick after ``now`` over these versions."""
    found = [t for v in versions if (t := v.spec.schedule.next_after(now)) is not None]
    return min(found, default=None)


# -- what `jobq periodic` shows ------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """One periodic task as the store knows it: its newest version's schedule, how many
    versions are live, the last tick fired and the next one (epoch seconds)."""

    name: str
    schedule: str
    catch_up: str
    queue: str
    live: bool
    versions: int
    last_tick: float | None
    next_tick: float | None


def overview(definitions: Sequence[Any], last_ticks: dict[str, int],
             now: float) -> list[Overview]:
    """``definitions`` are stored versions (``StoredDefinition``); ``now`` is the store's
    clock. Versions this jobq cannot read are left out."""
    by_name: dict[str, list[Version]] = {}
    for d in definitions:
        try:
            spec = PeriodicSpec.from_json(d.name, d.spec)
        except (ValueError, KeyError, TypeError):
            continue
        by_name.setdefault(d.name, []).append(Version(spec, d.first_seen, d.seen_at))
    found = []
    for name, versions in sorted(by_name.items()):
        live = [v for v in versions if is_live(v.seen_at, now)]
        newest = max(live or versions, key=lambda v: (v.first_seen, v.spec.hash)).spec
        last = last_ticks.get(name)
        upcoming = next_tick(live, round(now * 1000)) if live else None
        found.append(Overview(name, newest.schedule.describe(), newest.catch_up, newest.queue,
                              bool(live), len(live), None if last is None else last / 1000,
                              None if upcoming is None else upcoming / 1000))
    return found
