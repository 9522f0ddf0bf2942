"""The process pool: ``size`` long-lived child processes, each running one job at a time.

Only this process (the worker) talks to the store: it claims, heartbeats and records
outcomes, so a child busy in C code never loses its job's lease. A child gets a job and
sends back an ``AttemptOutcome``, both as JSON lines on a pipe (``child.py``).

Children are fresh interpreters (``python -m jobq.worker.pools.child``: in effect
multiprocessing's "spawn"), neither forked nor taken from a forkserver:
- the worker has threads (heartbeats, the reaper, a store listener) and open store
  connections; a fork copies the locks other threads hold, and the sockets;
- a forkserver's children are the forkserver's, so the worker could neither wait for a
  child's exit status (the signal that killed it) nor be the parent whose death kills it;
- multiprocessing hands a process its target with pickle; here nothing is pickled: the
  child imports the App by reference (``jobq.appref``) and every message is JSON.
A child costs an interpreter start and the app's import, once: children are long-lived.

Each child leads its own process group, so killing the group at the hard time limit, or
after the child died or retired, also ends whatever its task started.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from jobq.appref import locate
from jobq.errors import ConfigError, SerializationError, WorkerLost
from jobq.logs import JsonFormatter
from jobq.worker.execution import Attempt
from jobq.worker.outcomes import AttemptOutcome, failed, job_fields
from jobq.worker.pools.base import EXIT_OUT_OF_MEMORY, PoolSetup, deliver

START_TIMEOUT = 120.0  # for every child to import the app when the worker starts
RESPAWN_DELAY_CAP = 30.0  # between attempts to replace a child that failed to start


@dataclass(eq=False)
class _Child:
    proc: subprocess.Popen[bytes]
    to_child: IO[str]
    from_child: IO[str]
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    state: str = "starting"  # then idle / busy, or retiring after its last job
    attempt: Attempt | None = None
    error: str | None = None  # why it could not start, as it said
    reaped: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid


def _log_format() -> str:
    """The children's log format: JSON if this process logs JSON, else text."""
    handlers = logging.getLogger().handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"


def exit_cause(code: int) -> str:
    """How a child ended, from its exit status, for the job's error and the log."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = f"was killed by {name}"
        if -code == signal.SIGKILL:
            cause += " (sent by someone, or by the kernel's out-of-memory killer)"
        return cause
    if code == EXIT_OUT_OF_MEMORY:
        return "ran out of memory (MemoryError)"
    return f"exited with code {code}"


class ProcessPool:
    """``size`` child processes; a dead child fails its attempt with ``WorkerLost`` and is
    replaced, and the pool goes on."""

    abandons = "its child process is killed with its process group"

    def __init__(self, setup: PoolSetup) -> None:
        self.size = setup.size
        self._setup = setup
        self._log = setup.log
        self._cond = threading.Condition()
        self._children: list[_Child] = []
        self._idle: deque[_Child] = deque()
        self._waiting: deque[Attempt] = deque()
        self._spawns: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._started = False
        self._start_errors: list[str] = []
        self._respawn_delay = 0.0
        self._start_line = ""
        # Children are started from this one long-lived thread: the kernel's parent-death
        # signal fires when the thread that started a child ends, not the process.
        self._supervisor = threading.Thread(target=self._supervise, daemon=True,
                                            name=f"{setup.name}-children")

    # -- starting --------------------------------------------------------------------

    def start(self) -> None:
        app, options = self._setup.app, self._setup.options
        location = locate(app, options.app_ref)
        self._start_line = json.dumps({
            "op": "start", "location": location.to_json(), "settings": asdict(app.settings),
            "sys_path": [path for path in sys.path if path], "argv": sys.argv,
            "tasks": sorted(app.tasks),
            "max_tasks": options.max_tasks_per_child,
            "max_memory": options.max_memory_per_child,
            "log_level": logging.getLogger().getEffectiveLevel(), "log_format": _log_format(),
        })
        self._supervisor.start()
        for _ in range(self.size):
            self._spawns.put(True)
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while not self._start_errors and len(self._idle) < self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            errors, ready = list(self._start_errors), len(self._idle)
            self._started = not errors and ready == self.size
        if not self._started:
            self.shutdown()
            why = errors[0] if errors else f"only {ready} were ready after {START_TIMEOUT:.0f}s"
            raise ConfigError(f"the process pool's children could not start: {why}")

    def _supervise(self) -> None:
        while self._spawns.get():
            if self._respawn_delay and self._stopping.wait(self._respawn_delay):
                return
            if self._stopping.is_set():
                return
            try:
                self._spawn()
            except OSError as exc:
                with self._cond:
                    started = self._started
                    if not started:  # start() gives up and says why
                        self._start_errors.append(f"could not start a child process: {exc}")
                        self._cond.notify_all()
                if started:
                    self._log.error("could not start a child process: %s; trying again", exc,
                                    extra={"action": "child_start_error"})
                    self._back_off()
                    self._spawns.put(True)

    def _spawn(self) -> None:
        to_read, to_child = os.pipe()
        from_child, to_write = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobq.worker.pools.child", str(to_read),
                 str(to_write), str(os.getpid())],
                pass_fds=(to_read, to_write), process_group=0, stdin=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (to_child, from_child):
                os.close(fd)
            raise
        finally:
            os.close(to_read)
            os.close(to_write)
        child = _Child(proc, os.fdopen(to_child, "w", encoding="utf-8"),
                       os.fdopen(from_child, "r", encoding="utf-8"))
        with self._cond:
            self._children.append(child)
        self._send(child, self._start_line)
        threading.Thread(target=self._listen, args=(child,), daemon=True,
                         name=f"{self._setup.name}-child-{child.pid}").start()

    def _back_off(self) -> None:
        self._respawn_delay = min(RESPAWN_DELAY_CAP, max(1.0, self._respawn_delay * 2))

    # -- the worker loop's side --------------------------------------------------------

    def submit(self, attempt: Attempt) -> None:
        attempt.margin = self._setup.options.kill_after
        if attempt.outcome is not None:  # known before it ran (no such task)
            attempt.started = time.monotonic()
            deliver(self._setup, attempt, attempt.outcome)
            return
        with self._cond:
            self._waiting.append(attempt)
        self._dispatch()

    def abandon(self, attempt: Attempt, *, running: bool = True) -> bool:
        """Give up on an attempt; a running one's child is killed with its process group
        (and replaced)."""
        started = attempt.give_up(running=running)
        if started is None:
            return False
        with self._cond:
            if not started:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(attempt)
                return True
            for child in self._children:
                if child.attempt is attempt:
                    self._kill(child)
        return True

    def shutdown(self) -> None:
        """Close every child's pipe (an idle child then exits), wait a little, and kill
        what is left. The loop has given up on every attempt by now."""
        self._stopping.set()
        self._spawns.put(False)
        # First the supervisor: a child it is spawning right now (start() gives up as soon
        # as one child fails) must be among those closed and waited for below.
        if self._supervisor.is_alive():
            self._supervisor.join(5.0)
        with self._cond:
            children = list(self._children)
            self._waiting.clear()
        for child in children:
            with child.write_lock, contextlib.suppress(OSError):
                child.to_child.close()
        deadline = time.monotonic() + 10.0
        for child in children:
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with self._cond:
                    self._kill(child)
                child.proc.wait()

    # -- talking to children ---------------------------------------------------------

    def _dispatch(self) -> None:
        """Give waiting attempts to idle children."""
        while True:
            with self._cond:
                pair = self._next_pair()
            if pair is None:
                return
            child, attempt = pair
            self._send(child, json.dumps({"op": "run", "job": asdict(attempt.claimed)}))
            cancel = json.dumps({"op": "cancel", "id": attempt.claimed.id})
            attempt.running._when_cancelled(functools.partial(self._send, child, cancel))

    def _next_pair(self) -> tuple[_Child, Attempt] | None:
        while self._idle and self._waiting:
            attempt = self._waiting.popleft()
            with attempt.lock:
                if attempt.abandoned:
                    continue
                attempt.started = time.monotonic()
            child = self._idle.popleft()
            child.state, child.attempt = "busy", attempt
            return child, attempt
        return None

    def _send(self, child: _Child, line: str) -> None:
        # A child that died meanwhile is seen by its listener, which says why.
        with child.write_lock, contextlib.suppress(OSError, ValueError):
            child.to_child.write(line + "\n")
            child.to_child.flush()

    def _kill(self, child: _Child) -> None:
        """Kill a child and its process group; call with the pool's lock held."""
        if not child.reaped:
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)

    def _listen(self, child: _Child) -> None:
        """A child's messages, until its pipe ends (it exited, or was killed)."""
        try:
            for line in child.from_child:
                self._on_message(child, json.loads(line))
        except (ValueError, KeyError, TypeError, SerializationError) as exc:
            self._log.error("child process %d sent something unreadable (%s); replacing it",
                            child.pid, exc, extra={"action": "child_garbled"})
            with self._cond:
                self._kill(child)
        finally:
            self._on_exit(child)

    def _on_message(self, child: _Child, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "ready":
            with self._cond:
                child.state = "idle"
                self._idle.append(child)
                self._respawn_delay = 0.0
                self._cond.notify_all()
            self._dispatch()
        elif op == "failed":
            child.error = str(message["message"])
        elif op == "done":
            self._on_done(child, message)
        else:
            raise ValueError(f"unknown message {op!r}")

    def _on_done(self, child: _Child, message: dict[str, Any]) -> None:
        outcome = AttemptOutcome.from_json(message["outcome"])
        with self._cond:
            attempt = child.attempt
            if attempt is None or attempt.claimed.id != message["id"]:
                raise ValueError(f"an outcome for job {message['id']}, which it was not running")
            child.attempt = None
            if message.get("retire"):
                child.state = "retiring"
            else:
                child.state = "idle"
                self._idle.append(child)
        deliver(self._setup, attempt, outcome)
        self._dispatch()

    def _on_exit(self, child: _Child) -> None:
        """A child's pipe ended: end its process group, learn why, replace it."""
        with self._cond:
            self._kill(child)  # whatever its tasks left running goes with it
        code = child.proc.wait()
        with contextlib.suppress(OSError):
            child.from_child.close()
        with child.write_lock, contextlib.suppress(OSError):
            child.to_child.close()
        with self._cond:
            child.reaped = True
            self._children.remove(child)
            if child in self._idle:
                self._idle.remove(child)
            attempt, child.attempt = child.attempt, None
            stopping = self._stopping.is_set()
            if child.state == "starting":
                why = child.error or f"child process {child.pid} {exit_cause(code)}"
                if not self._started:  # start() gives up and says why
                    self._start_errors.append(why)
                    self._cond.notify_all()
                elif not stopping:
                    self._log.error("a new child process could not start: %s", why,
                                    extra={"action": "child_start_error"})
                    self._back_off()
            replace = self._started and not stopping
        if attempt is not None:
            self._lost(attempt, child, code)
        elif child.state not in ("retiring", "starting") and not stopping:
            self._log.warning("child process %d %s; starting another", child.pid, exit_cause(code),
                              extra={"action": "child_lost"})
        if replace:
            self._spawns.put(True)

    def _lost(self, attempt: Attempt, child: _Child, code: int) -> None:
        """The child died running ``attempt``: the attempt fails (and counts, as an error
        does), unless the loop had given up on it already."""
        claimed = attempt.claimed
        cause = exit_cause(code)
        error = WorkerLost(f"the child process running this job (pid {child.pid}) {cause}; "
                           "the worker started another")
        outcome = failed(error, attempt.task, claimed)
        with attempt.lock:
            if attempt.abandoned or attempt.finished:
                return
            attempt.outcome, attempt.finished = outcome, True
        self._log.warning("job %s (%s): its child process %d %s; starting another", claimed.id,
                          claimed.task, child.pid, cause, extra=job_fields(claimed, "child_lost"))
        self._setup.on_done(attempt)
