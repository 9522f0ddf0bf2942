"""Batches for the enqueue script: jobs as its JSON rows, its replies as the jobs stored,
and the error for a batch the store confirmed only in part."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from jobq.backends.base import NewJob
from jobq.backends.redis.records import pack_spec
from jobq.errors import BackendError, EnqueueIncomplete
from jobq.job import DEFAULT_MAX_LOST

_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def stored_jobs(chunks: list[tuple[list[NewJob], str]], replies: list[Any]) -> list[NewJob | str]:
    """Per job of the chunks sent, in order: the job, or the id of the live job holding
    its key (each reply names those by their 1-based position in its chunk)."""
    out: list[NewJob | str] = [job for chunk, _ in chunks for job in chunk]
    base = -1
    for (chunk, _), reply in zip(chunks, replies, strict=True):
        for i in range(1, len(reply), 2):
            out[base + int(reply[i])] = reply[i + 1]
        base += len(chunk)
    return out


def incomplete(chunks: list[tuple[list[NewJob], str]], confirmed: dict[int, Any],
                source: Iterator[NewJob], exc: BackendError) -> EnqueueIncomplete:
    """The error for a batch whose chunks the store confirmed only in part."""
    stored: list[str] = []
    unconfirmed: list[str] = []
    for n, (chunk, _) in enumerate(chunks):
        (stored if n in confirmed else unconfirmed).extend(job.id for job in chunk)
    return EnqueueIncomplete(str(exc), stored, unconfirmed, [job.id for job in source])


def pack_limit(j: NewJob) -> str:
    """A limited job's ``limit`` hash field: concurrency, seconds between starts, burst and
    the key, joined by 0x1f ("" for no limit); the key, which may hold any character,
    last."""
    return "\x1f".join(("" if j.limit_concurrency is None else str(j.limit_concurrency),
                        "" if j.limit_interval is None else repr(float(j.limit_interval)),
                        str(j.limit_burst), j.limit_key or ""))


def encode_rows(jobs: Sequence[NewJob], numbers: dict[float, str]) -> str:
    """The enqueue script's JSON rows; ``numbers`` caches formatted times across calls.
    A job that differs from the one before it by id alone is sent as its id alone."""
    def num(value: float) -> str:
        text = numbers.get(value)
        if text is None:
            text = numbers[value] = repr(float(value))
        return text

    rows: list[list[str]] = []
    last: tuple[Any, ...] = ()
    for j in jobs:
        rest = j[1:]  # every field but the id
        if rest == last:
            rows.append([j.id])
            continue
        last = rest
        timeout = "" if j.timeout is None else repr(float(j.timeout))
        spec = pack_spec(str(j.max_attempts), num(j.created_at), timeout, j.args, j.kwargs,
                         j.task)
        row = [j.id, j.queue, str(j.priority), j.status.value, num(j.run_at), j.key or "",
               spec, "" if j.max_lost == DEFAULT_MAX_LOST else str(j.max_lost)]
        if j.limit_key is not None:
            row.append(pack_limit(j))
        rows.append(row)
    return _json.encode(rows)
