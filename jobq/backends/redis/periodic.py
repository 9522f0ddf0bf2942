"""Periodic tasks on Redis: the arguments of the periodic scripts (``lua/lead.lua``,
``resign.lua``, ``register_periodic.lua``, ``periodic_state.lua``, ``fire_tick.lua``)
and their replies. Each call is one script, so each is one atomic step on the server's
clock; keys.md lists the keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobq.backends.base import (
    Lease,
    NewJob,
    PeriodicDefinition,
    PeriodicState,
    StoredDefinition,
    TickVerdict,
)
from jobq.backends.redis.access import num
from jobq.backends.redis.batches import pack_limit
from jobq.backends.redis.records import pairs
from jobq.job import DEFAULT_MAX_LOST

HASH_LENGTH = 16  # a version's field is its hash, then its name


def lead_args(prefix: str, holder: str, term: int | None, ttl: float) -> tuple[str, ...]:
    return (prefix, holder, "" if term is None else str(term), num(ttl))


def lease_of(reply: Sequence[Any]) -> Lease:
    holder, term, expires, elected, now = reply
    if not holder:
        return Lease(None, int(term), float(expires), float(now))
    return Lease(holder, int(term), float(expires), float(now), float(elected) if elected else None)


def register_args(prefix: str, definitions: Sequence[PeriodicDefinition], now: float,
                  forget_before: float) -> list[str]:
    args = [prefix, num(now), num(forget_before)]
    for d in definitions:
        if len(d.hash) != HASH_LENGTH:
            raise ValueError(f"a periodic version hash has {HASH_LENGTH} characters: {d.hash!r}")
        args += (d.name, d.hash, d.spec)
    return args


def state_of(reply: str) -> PeriodicState:
    data = json.loads(reply)
    now = float(data["now"])
    leader = pairs(data["leader"] or None)
    lease = Lease(None, int(leader.get("term", 0)), 0.0, now) if "holder" not in leader else (
        Lease(leader["holder"], int(leader["term"]), float(leader["expires_at"]), now,
              float(leader["elected_at"])))
    specs, first = pairs(data["specs"] or None), pairs(data["first"] or None)
    seen = pairs(data["seen"] or None)
    definitions = [
        StoredDefinition(field[HASH_LENGTH:], field[:HASH_LENGTH], spec,
                         float(first.get(field, seen.get(field, 0))), float(seen.get(field, 0)))
        for field, spec in specs.items()
    ]
    definitions.sort(key=lambda d: (d.name, d.first_seen))
    last = {name: int(tick) for name, tick in pairs(data["last"] or None).items()}
    return PeriodicState(now, lease, definitions, last)


def fire_args(prefix: str, holder: str, term: int, name: str, tick: int,
              job: NewJob) -> tuple[str, ...]:
    return (prefix, holder, str(term), name, str(tick), job.id, job.queue, str(job.priority),
            num(job.run_at), str(job.max_attempts),
            "" if job.timeout is None else num(job.timeout), job.args, job.kwargs, job.task,
            "" if job.max_lost == DEFAULT_MAX_LOST else str(job.max_lost),
            "" if job.limit_key is None else pack_limit(job))


def verdict_of(reply: Sequence[Any]) -> TickVerdict:
    return TickVerdict(reply[0])
