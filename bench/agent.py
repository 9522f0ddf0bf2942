"""The client side of one measurement, run inside a system's own virtualenv.

The harness calls ``python -m bench.agent '<json>'`` with the system's store and the
measurement's counter key in the environment; the agent prints one JSON line.

Actions:
  versions  {"packages": [...]}                   -> {"pkg": "version", ...}
  prepare   {"system", "flush", "mode", "n", "seed"} -> {"seconds": enqueue time}
            mode "one": enqueue_one N times; "bulk": enqueue_bulk in chunks of 1,000.
            seed: None for no-op jobs, else the seed of the 1-20 ms sleep of each job.
  latency   {"system", "n", "rate", "warmup"}     -> {"seconds": ...}
            waits until the idle worker has run ``warmup`` jobs one by one, then sends
            ``n`` jobs at ``rate`` per second, each carrying its enqueue time.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import random
import sys
import time
from typing import Any

BULK_CHUNK = 1000


def sleeps(n: int, seed: int | None) -> list[float]:
    """The sleep of each job, in ms: 0 for no-op jobs, else uniform in 1-20 ms."""
    if seed is None:
        return [0.0] * n
    rng = random.Random(seed)
    return [round(rng.uniform(1.0, 20.0), 3) for _ in range(n)]


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def prepare(adapter: Any, spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("flush", True):
        adapter.setup()
    await _maybe(adapter.open())
    jobs = [(0.0, s) for s in sleeps(spec["n"], spec.get("seed"))]
    try:
        started = time.perf_counter()
        if spec["mode"] == "bulk":
            for i in range(0, len(jobs), BULK_CHUNK):
                await _maybe(adapter.enqueue_bulk(jobs[i:i + BULK_CHUNK]))
        else:
            for t_enq, sleep_ms in jobs:
                await _maybe(adapter.enqueue_one(t_enq, sleep_ms))
        seconds = time.perf_counter() - started
    finally:
        await _maybe(adapter.close())
    return {"seconds": seconds, "n": len(jobs)}


def _counter() -> Any:
    import redis

    return redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])


async def _wait_count(counter: Any, key: str, target: int, deadline: float) -> None:
    while int(counter.get(key) or 0) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker did not run job {target} in time")
        await asyncio.sleep(0.002)


async def latency(adapter: Any, spec: dict[str, Any]) -> dict[str, Any]:
    counter, key = _counter(), os.environ["BENCH_KEY"]
    await _maybe(adapter.open())
    try:
        deadline = time.monotonic() + spec.get("startup_timeout", 120.0)
        for i in range(spec["warmup"]):
            await _maybe(adapter.enqueue_one(0.0, 0.0))
            await _wait_count(counter, key, i + 1, deadline)
        interval = 1.0 / spec["rate"]
        started = time.monotonic()
        for i in range(spec["n"]):
            delay = started + i * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await _maybe(adapter.enqueue_one(time.time(), 0.0))
        seconds = time.monotonic() - started
    finally:
        await _maybe(adapter.close())
    return {"seconds": seconds}


def versions(spec: dict[str, Any]) -> dict[str, Any]:
    from importlib import metadata

    found = {}
    for name in spec["packages"]:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = sys.version.split()[0]
    return found


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    if spec["action"] == "versions":
        result = versions(spec)
    else:
        from bench.systems import SYSTEMS

        adapter = SYSTEMS[spec["system"]]
        action = {"prepare": prepare, "latency": latency}[spec["action"]]
        result = asyncio.run(action(adapter, spec))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
