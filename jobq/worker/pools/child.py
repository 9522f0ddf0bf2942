"""A process pool child: ``python -m jobq.worker.pools.child IN_FD OUT_FD PARENT_PID``.

It reads one JSON line per message from IN_FD and writes one per message to OUT_FD (its
stdout and stderr stay the worker's, for the tasks' own output):

    parent → child   {"op": "start", ...}   once: where the App is, the settings, limits
                     {"op": "run", "job": {...}}   {"op": "cancel", "id": ...}
    child → parent   {"op": "ready", "tasks": [...]}  or  {"op": "failed", "message": ...}
                     {"op": "done", "id": ..., "outcome": {...}, "retire": bool}

The task runs on the main thread, so its soft time limit is a SIGALRM that raises
``jobq.Timeout`` inside it, even in ``time.sleep``; a thread reads the pipe meanwhile.
The child never talks to the store for its jobs (the parent does); a task that enqueues
opens the child's own connection on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import IO, Any

from jobq.app import App
from jobq.appref import AppLocation, import_location
from jobq.backends.base import ClaimedJob
from jobq.context import RunningJob
from jobq.errors import UnknownTask
from jobq.logs import formatter
from jobq.worker.execution import execute, timeout_error
from jobq.worker.outcomes import AttemptOutcome, failed
from jobq.worker.pools.base import EXIT_OUT_OF_MEMORY

_PR_SET_PDEATHSIG = 1

log = logging.getLogger("jobq.worker")


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), even by SIGKILL;
    elsewhere the end of the pipe from the parent does it, a moment later."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(0)


def end_group() -> None:
    """Kill this child with everything its tasks started (its process group)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(0)


@contextlib.contextmanager
def alarm(claimed: ClaimedJob) -> Iterator[None]:
    """Raise ``Timeout`` in the main thread when ``claimed.timeout`` has passed."""
    armed = True

    def on_alarm(signum: int, frame: Any) -> None:
        if armed:
            raise timeout_error(claimed)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, claimed.timeout or 0.0)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def resident_mib() -> float:
    """This process's resident memory now (Linux), else its peak, in MiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class Child:
    """Runs the jobs the parent sends, one at a time, until told to stop."""

    def __init__(self, app: App, start: dict[str, Any], outbox: IO[str]) -> None:
        self.app = app
        self.outbox = outbox
        self.max_tasks: int | None = start.get("max_tasks")
        self.max_memory: int | None = start.get("max_memory")
        self.jobs: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.running: RunningJob | None = None
        self.done = 0

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.write(json.dumps(message) + "\n")
        self.outbox.flush()

    def listen(self, inbox: IO[str]) -> None:
        """The reader thread: jobs to the main thread, cancels to the running job. When
        the parent closes the pipe (it stopped, or died) an idle child just ends; a busy
        one ends with its process group."""
        for line in inbox:
            message = json.loads(line)
            if message["op"] == "run":
                self.jobs.put(message["job"])
            elif message["op"] == "cancel":
                running = self.running
                if running is not None and running.id == message["id"]:
                    running._request_cancel()
        if self.running is not None:
            end_group()
        self.jobs.put(None)

    def serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                outcome = self.run(ClaimedJob(**job))
            except MemoryError:  # raised again while the first one was being reported
                os._exit(EXIT_OUT_OF_MEMORY)
            self.done += 1
            if outcome.error is not None and outcome.error.type == "MemoryError":
                os._exit(EXIT_OUT_OF_MEMORY)  # its memory cannot be trusted: replace it
            retire = self._should_retire(outcome)
            try:
                self.send({"op": "done", "id": job["id"], "outcome": outcome.to_json(),
                           "retire": retire})
            except OSError:  # the parent is gone
                return
            if retire:
                return

    def run(self, claimed: ClaimedJob) -> AttemptOutcome:
        task = self.app.tasks.get(claimed.task)
        self.running = RunningJob(claimed.id, claimed.task, claimed.queue, claimed.attempts,
                                  claimed.max_attempts)
        try:
            if task is None:
                return failed(UnknownTask(f"no task named {claimed.task!r} in the child"),
                              None, claimed)
            return execute(claimed, task, self.running, sync_limit=alarm)
        finally:
            self.running = None

    def _should_retire(self, outcome: AttemptOutcome) -> bool:
        # A task stopped by its time limit may have left work behind (threads, its own
        # subprocesses): the child goes, and its process group with it.
        if outcome.error is not None and outcome.error.type == "Timeout":
            return True
        if self.max_tasks is not None and self.done >= self.max_tasks:
            return True
        return self.max_memory is not None and resident_mib() > self.max_memory


def _load(start: dict[str, Any]) -> App:
    # As the worker's own process saw them, for modules that read them on import.
    sys.argv = list(start["argv"])
    for path in reversed(start["sys_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    app = import_location(AppLocation.from_json(start["location"]))
    app.reconfigure(**start["settings"])  # the worker's store, not the module's own
    app.import_tasks()
    return app


def main(argv: list[str]) -> int:
    fd_in, fd_out, parent = (int(arg) for arg in argv[1:4])
    die_with_parent(parent)
    # The parent decides when a child stops: a stop signal sent to every process (a
    # service manager stopping the whole group) must not cut the running task short.
    # A handler, not SIG_IGN, so that the task's own subprocesses get the default back.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    inbox = os.fdopen(fd_in, "r", encoding="utf-8")
    outbox = os.fdopen(fd_out, "w", encoding="utf-8")
    line = inbox.readline()
    if not line:
        return 0
    start = json.loads(line)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(start["log_format"]))
    logging.basicConfig(level=start["log_level"], handlers=[handler])
    try:
        app = _load(start)
        missing = sorted(set(start["tasks"]) - set(app.tasks))
        if missing:
            raise UnknownTask(
                f"importing {start['location']['app']} here registers no task named "
                f"{', '.join(missing)}; register tasks at module level, in modules the App's "
                "module imports"
            )
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Exception):
            message += "\n" + traceback.format_exc()
        outbox.write(json.dumps({"op": "failed", "message": message}) + "\n")
        outbox.flush()
        return 1
    child = Child(app, start, outbox)
    child.send({"op": "ready", "pid": os.getpid(), "tasks": sorted(app.tasks)})
    threading.Thread(target=child.listen, args=(inbox,), name="jobq-child-pipe",
                     daemon=True).start()
    child.serve()
    with contextlib.suppress(Exception):
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
