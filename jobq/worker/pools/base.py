"""What the worker loop needs from a pool, and what every pool is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from jobq.logs import WorkerLog
from jobq.worker.execution import Attempt
from jobq.worker.outcomes import AttemptOutcome

if TYPE_CHECKING:
    from jobq.app import App
    from jobq.worker.options import WorkerOptions

# Exit code of a process pool child that ran out of memory (MemoryError), so that the
# worker can name the cause.
EXIT_OUT_OF_MEMORY = 86


@dataclass(frozen=True)
class PoolSetup:
    """Everything a pool is built from.

    ``on_done`` hears of each attempt that finished and was not abandoned, from any
    thread; ``name`` prefixes the names of the threads the pool starts; ``log`` is the
    worker's log.
    """

    app: App
    options: WorkerOptions
    on_done: Callable[[Attempt], None]
    size: int
    name: str
    log: WorkerLog


class Pool(Protocol):
    """Runs attempts. The worker loop needs only: start, submit, abandon, shutdown."""

    size: int
    # What giving up on a running attempt does, for the log line that says so.
    abandons: str

    def __init__(self, setup: PoolSetup) -> None: ...

    def start(self) -> None:
        """Be ready to run attempts; raise ``ConfigError`` if the pool cannot run here."""

    def submit(self, attempt: Attempt) -> None:
        """Run ``attempt`` when there is room, setting ``attempt.margin`` first."""

    def abandon(self, attempt: Attempt, *, running: bool = True) -> bool:
        """Give up on an attempt that has not finished; True if it was given up.

        With ``running=False`` only an attempt the pool has not started is given up (it
        then never starts). A running one is stopped as far as the pool can (a child
        process is killed) and its late outcome, if any, is discarded.
        """

    def shutdown(self) -> None:
        """Stop; the loop has given up on or seen the end of every attempt."""


def deliver(setup: PoolSetup, attempt: Attempt, outcome: AttemptOutcome) -> bool:
    """Hand an attempt's outcome to the worker loop, unless the loop gave up on it
    meanwhile: then the late outcome is discarded, and the log says so. True if handed."""
    if attempt.end(outcome):
        setup.on_done(attempt)
        return True
    setup.log.info("abandoned job %s finished late; its result is discarded",
                   attempt.claimed.id, extra={"job_id": attempt.claimed.id,
                                              "action": "late_result_discarded"})
    return False
