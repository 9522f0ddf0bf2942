"""Named, supervised loops that run beside the claim → run → finish loop.

A loop that meets a store error logs it and tries again at its next tick (the store may
be restarting). Any other error ends the loop, and the worker then stops and says why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from jobq.errors import BackendError
from jobq.logs import WorkerLog


class SideLoop:
    def __init__(self, name: str, interval: float, tick: Callable[[], None],
                 on_crash: Callable[[str, BaseException], None],
                 log: WorkerLog) -> None:
        self.name = name
        self._log = log
        self.interval = interval
        self._tick = tick
        self._on_crash = on_crash
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"jobq-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._tick()
            except (BackendError, OSError) as exc:
                self._log.warning("%s: store error, will retry: %s", self.name, exc,
                                  extra={"action": f"{self.name}_error"})
            except BaseException as exc:
                self._log.exception("%s loop crashed", self.name,
                                    extra={"action": f"{self.name}_crash"})
                self._on_crash(self.name, exc)
                return
