"""Tasks for the process and async pool tests.

The process pool's children import the App by reference, so these tasks live on a
module-level ``app`` (``app_ref=REF``); a test builds an App with the same tasks on its
own store with ``build_app`` (the children take the worker's store settings). As a worker
process: ``python -m tests.worker.pooled CONFIG`` (see ``tests.worker.subject``).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jobq
from tests.worker import subject

REF = "tests.worker.pooled:app"
PROCESS = {"pool": "process", "app_ref": REF}


def note(run_dir: str, *pids: int) -> None:
    """Append ``pids`` (the process running the task first) to the run folder's pid log."""
    line = " ".join(str(pid) for pid in (os.getpid(), *pids)) + "\n"
    with open(Path(run_dir) / "pids.log", "a", encoding="ascii") as log:
        log.write(line)


def noted_pids(run_dir: Path) -> set[int]:
    path = run_dir / "pids.log"
    text = path.read_text(encoding="ascii") if path.exists() else ""
    return {int(pid) for pid in text.split()}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pool_children(parent: int) -> set[int]:
    """The live process pool children of process ``parent``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == parent and b"jobq.worker.pools.child" in command:
            found.add(int(entry))
    return found


def spin(seconds: float) -> None:
    """Pure-Python CPU work for ``seconds`` of this thread's CPU time."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        for _ in range(10_000):
            pass


def blow_memory() -> None:
    """Allocate until this process's address-space limit, set just above its use, runs
    out: a MemoryError, as from a real blow-up, with no risk to the machine."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + 256 * 2**20, hard))
    hog = []
    while True:
        hog.append(bytearray(16 * 2**20))


def whoami(cpu: float = 0.0) -> int:
    if cpu:
        spin(cpu)
    return os.getpid()


def double(n: int) -> int:
    return n * 2


def sleeper(run_dir: str) -> None:
    helper = subprocess.Popen(["sleep", "60"])
    note(run_dir, helper.pid)
    time.sleep(60)


def stubborn(run_dir: str) -> None:
    note(run_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except jobq.Timeout:
            continue  # carries on regardless


def deaf(run_dir: str) -> None:
    note(run_dir)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(60)  # blocked in C, the soft limit's signal ignored


def crash(how: str) -> None:
    if how == "segfault":
        ctypes.string_at(0)
    elif how == "exit":
        os._exit(3)
    elif how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "memory":
        blow_memory()


def not_json() -> object:
    return {1, 2}


def bloat(mib: int) -> int:
    ballast.append(bytearray(mib * 2**20))
    return os.getpid()


def until_cancelled(run_dir: str) -> None:
    note(run_dir)
    deadline = time.monotonic() + 60
    while not jobq.current_job().cancel_requested and time.monotonic() < deadline:
        time.sleep(0.01)
    raise RuntimeError("stopped on request")


async def async_sleeper() -> str:
    try:
        await asyncio.sleep(60)
    except jobq.Timeout:
        return f"Timeout raised inside, pid {os.getpid()}"
    return "woke up"


def build_app(url: str, options: dict[str, Any]) -> jobq.App:
    app = subject.build_app(url, options)  # record and hold, for worker-process tests
    for fn in (whoami, double, crash, not_json, bloat):
        app.task(name=fn.__name__)(fn)
    app.task(name="sleeper", timeout=1, retries=1, backoff=jobq.Backoff(base=0, cap=0))(sleeper)
    app.task(name="stubborn", timeout=0.5)(stubborn)
    app.task(name="deaf", timeout=0.5)(deaf)
    app.task(name="until_cancelled", retries=3)(until_cancelled)
    app.task(name="async_sleeper", timeout=0.5)(async_sleeper)

    @app.task(name="spawn_double")
    def spawn_double(n: int) -> str:
        return app.enqueue("double", n).id

    return app


ballast: list[bytearray] = []
app = build_app("sqlite:///unused-by-the-children.db", {})


if __name__ == "__main__":
    sys.exit(subject.main(sys.argv, build_app))
