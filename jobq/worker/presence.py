"""A worker in the store's registry: it writes itself in at start (id, host, pid, queues,
registered tasks), refreshes its row while it runs, and removes it when it stops. Others
read the registry to see which workers run and which tasks they have (``jobq stats``)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Collection, Sequence

from jobq.backends.base import Backend, WorkerInfo
from jobq.errors import BackendError, JobqError

log = logging.getLogger("jobq.worker")
Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


class Presence:
    def __init__(self, backend: Backend, worker_id: str, queues: Sequence[str],
                 tasks: Collection[str], logger: Logger = log) -> None:
        self._backend = backend
        self.log = logger
        self.info = WorkerInfo(worker_id, socket.gethostname(), os.getpid(), time.time(),
                               tuple(queues), tuple(sorted(tasks)))

    def announce(self) -> None:
        """At start: say what in the store's settings can lose jobs, then register.
        Neither stops the worker: a store that is down is waited out by the loop."""
        try:
            for warning in self._backend.durability_warnings():
                self.log.warning(warning, extra={"action": "store_warning"})
            self._backend.register_worker(self.info)
        except JobqError as exc:
            self.log.warning("could not register this worker in the store: %s", exc,
                        extra={"action": "register_error"})

    def refresh(self) -> None:
        """A side-loop tick: the registry's last_seen for this worker is now."""
        self._backend.register_worker(self.info)

    def leave(self) -> None:
        try:
            self._backend.unregister_worker(self.info.id)
        except BackendError as exc:  # its row ages out of the registry instead
            self.log.info("could not remove this worker from the registry: %s", exc,
                     extra={"action": "unregister_error"})
