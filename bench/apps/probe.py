"""What every benchmark task does, whatever system runs it.

The task body is the same everywhere: optionally sleep (the I/O-like mix), then count
itself in the harness's own Redis database. The counter proves every job executed and is
how the harness detects completion, identically for all systems. The first job to start
and the job that brings the count to the target record their times, so a drain rate
excludes worker start-up. Latency jobs push "enqueued started" pairs to a list.

Configuration comes from the environment the harness gives the worker:
BENCH_COUNTER_URL (redis URL of the harness database), BENCH_KEY (this measurement's key),
BENCH_TARGET (the count at which the measurement is complete).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

_sync_client: Any = None
_sync_pid = 0
_async_clients: dict[int, Any] = {}


def _client() -> Any:
    # One connection per process: prefork pools fork after import.
    global _sync_client, _sync_pid
    if _sync_client is None or _sync_pid != os.getpid():
        import redis

        _sync_client = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
        _sync_pid = os.getpid()
    return _sync_client


def _async_client() -> Any:
    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
        _async_clients[loop_id] = client
    return client


def _marks(key: str, count: int, started: float) -> list[tuple[str, float]]:
    marks = []
    if count == 1:
        marks.append((f"{key}:first", started))
    if count == int(os.environ.get("BENCH_TARGET", "0")):
        marks.append((f"{key}:last", time.time()))
    return marks


def run(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    """The benchmark task, for systems whose tasks are plain functions."""
    started = time.time()
    if sleep_ms:
        time.sleep(sleep_ms / 1000.0)
    key = os.environ["BENCH_KEY"]
    client = _client()
    if t_enq:
        pipe = client.pipeline(transaction=False)
        pipe.rpush(f"{key}:lat", f"{t_enq!r} {started!r}")
        pipe.incr(key)
        count = pipe.execute()[1]
    else:
        count = client.incr(key)
    for mark, value in _marks(key, count, started):
        client.set(mark, repr(value))


async def run_async(t_enq: float = 0.0, sleep_ms: float = 0.0) -> None:
    """The same task for asyncio systems: the sleep yields the loop, as I/O would."""
    started = time.time()
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000.0)
    key = os.environ["BENCH_KEY"]
    client = _async_client()
    if t_enq:
        pipe = client.pipeline(transaction=False)
        pipe.rpush(f"{key}:lat", f"{t_enq!r} {started!r}")
        pipe.incr(key)
        count = (await pipe.execute())[1]
    else:
        count = await client.incr(key)
    for mark, value in _marks(key, count, started):
        await client.set(mark, repr(value))
