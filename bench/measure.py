"""Running one measurement: the agent, the worker process tree, the counter, memory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.systems.base import COUNTER_DB, REDIS_URL, Adapter
from bench.venvs import REPO

COUNTER_URL = f"{REDIS_URL}/{COUNTER_DB}"


class Counter:
    """The harness's Redis database: every task counts itself here."""

    def __init__(self, url: str = COUNTER_URL) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.run = uuid.uuid4().hex[:8]
        self.seq = 0

    def new_key(self) -> str:
        self.seq += 1
        return f"bench:{self.run}:{self.seq}"

    def count(self, key: str) -> int:
        return int(self.redis.get(key) or 0)

    def mark(self, key: str, name: str) -> float | None:
        value = self.redis.get(f"{key}:{name}")
        return None if value is None else float(value)

    def latencies_ms(self, key: str) -> list[float]:
        pairs = (item.split() for item in self.redis.lrange(f"{key}:lat", 0, -1))
        return sorted((float(start) - float(enq)) * 1000.0 for enq, start in pairs)

    def drop(self, key: str) -> None:
        self.redis.delete(key, f"{key}:first", f"{key}:last", f"{key}:lat")


@dataclass
class Context:
    """What every measurement needs: where things are and the counter."""

    work: Path
    counter: Counter
    bins: dict[str, Path] = field(default_factory=dict)
    logs: Path = field(default_factory=lambda: Path("/tmp"))

    def env(self, adapter: Adapter, key: str, target: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(adapter.env(self.work))
        env.update({"BENCH_COUNTER_URL": COUNTER_URL, "BENCH_KEY": key,
                    "BENCH_TARGET": str(target), "PYTHONPATH": str(REPO),
                    "PYTHONDONTWRITEBYTECODE": "1"})
        return env


def agent(ctx: Context, adapter: Adapter, spec: dict[str, Any], env: dict[str, str],
          timeout: float = 900.0) -> dict[str, Any]:
    """Run ``bench.agent`` in the system's venv; its JSON answer."""
    python = ctx.bins[adapter.venv] / "python"
    spec = {"system": adapter.name, **spec}
    done = subprocess.run([str(python), "-m", "bench.agent", json.dumps(spec)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{adapter.name} agent {spec['action']} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class WorkerProcess:
    """A system's standard worker command, in its own process group (ours to stop)."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=out,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def memory_kb(self) -> tuple[int, int]:
        """(current RSS, peak RSS) summed over the worker's process group, in KiB."""
        rss = peak = 0
        for pid in _group_members(self.proc.pid):
            status = _read(f"/proc/{pid}/status")
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
        return rss, peak

    def stop(self, grace: float = 20.0) -> None:
        if self.proc.poll() is not None:
            return
        pgid = self.proc.pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.proc.wait(10)
        # Children that outlive their parent (forked pools) go with the group.
        deadline = time.monotonic() + 10
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_members(pgid):
            _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        # Fields after the ")" that ends the command name: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_for(ctx: Context, key: str, target: int, worker: WorkerProcess,
             startup: float, drain: float, since_now: bool = False) -> dict[str, Any]:
    """Poll the counter until ``target``; give up ``drain`` s after the first job started
    (or, with ``since_now``, ``drain`` s from now)."""
    began = time.monotonic()
    cut_from = time.time() if since_now else None
    while True:
        count = ctx.counter.count(key)
        if count >= target:
            return {"count": count, "complete": True}
        first = ctx.counter.mark(key, "first")
        now = time.monotonic()
        if not worker.alive():
            return {"count": count, "complete": False, "error": "worker exited"}
        if first is None and now - began > startup:
            return {"count": count, "complete": False, "error": "no job started"}
        start = cut_from or first
        if start is not None and time.time() - start > drain:
            return {"count": count, "complete": False, "error": f"cut at {drain:.0f} s"}
        time.sleep(0.005)
