"""Jobs claimed for a task this worker does not have: a rolling deploy, where producers
or other workers already run a release with a task this one lacks.

Such a job never fails here. It is handed back (its attempt not counted) to wait for a
worker that has the task, offered again after a short, growing delay (the store decides
it), and fails with ``UnknownTask`` only once it has waited ``unknown_task_timeout``.
The worker says so once per task name. While another running worker has the task (the
store's worker registry says so), this worker's claims skip its jobs altogether, so
they go straight to that worker instead of bouncing; when none has it, they are handed
back as above until one comes or the wait runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from jobq.backends.base import Backend, ClaimedJob, Postponed, WorkerInfo
from jobq.errors import BackendError
from jobq.job import Status

log = logging.getLogger("jobq.worker")
Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


class UnknownTasks:
    def __init__(self, backend: Backend, worker_id: str, registered: Collection[str],
                 give_up_after: float | None, logger: Logger = log) -> None:
        self._backend = backend
        self.log = logger
        self._worker_id = worker_id
        self._registered = registered
        self._give_up_after = give_up_after
        self._held: list[Postponed] = []
        self._tasks: dict[str, str] = {}  # job id -> task name, for the log
        self._named: set[str] = set()
        self._lock = threading.Lock()
        self._fresh_names = False  # named since the registry was last read
        # Tasks this worker lacks that another running worker has: its claims skip them.
        self.skip: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, job: ClaimedJob) -> None:
        """Keep a claimed job of an unknown task, to hand back with ``hand_back``."""
        if job.task not in self._named:
            with self._lock:  # the presence loop reads the names from its thread
                self._named.add(job.task)
            self._fresh_names = True
            self.log.warning(
                "no task named %r is registered in this worker (a rolling deploy?): its "
                "jobs are handed back, their attempt not counted, for a worker that has it. "
                "Registered here: %s", job.task, ", ".join(sorted(self._registered)) or "none",
                extra={"job_id": job.id, "task": job.task, "action": "unknown_task"})
        limit = ("for ever" if self._give_up_after is None
                 else f"for up to {self._give_up_after:g}s")
        self._held.append(Postponed(
            job.id, job.token,
            f"worker {self._worker_id} has no task named {job.task!r}; the job waits for a "
            f"worker that registers it (a rolling deploy?), {limit}",
            f"no worker that has task {job.task!r} took this job within "
            f"{self._give_up_after or 0:g}s (workers without it handed it back meanwhile); "
            f"start a worker whose app registers {job.task!r}, then `jobq retry {job.id}`",
        ))
        self._tasks[job.id] = job.task

    def update_skips(self, workers: list[WorkerInfo]) -> None:
        """Skip the unknown tasks that one of these running workers has."""
        others = {task for worker in workers if worker.id != self._worker_id
                  for task in worker.tasks}
        with self._lock:
            skip = tuple(sorted(self._named & others))
        if skip != self.skip:
            self.log.info("leaving the jobs of task(s) %s to the workers that have them",
                     ", ".join(skip) or "(none)", extra={"action": "skip_tasks"})
        self.skip = skip
        self._fresh_names = False

    @property
    def names_unread(self) -> bool:
        """Whether tasks were found unknown since the registry was last read."""
        return self._fresh_names

    @property
    def watching(self) -> bool:
        """Whether any task was found unknown: the registry is then read now and then,
        to skip it while another worker has it."""
        return bool(self._named)

    def hand_back(self) -> None:
        """Hand the held jobs back to the store; kept for the next call if it fails."""
        if not self._held:
            return
        batch = self._held
        try:
            statuses = self._backend.postpone(batch, self._give_up_after)
        except BackendError as exc:
            self.log.warning("could not hand back %d job(s) of unknown tasks, retrying: %s",
                        len(batch), exc, extra={"action": "postpone_error"})
            return
        self._held = []
        for job, status in zip(batch, statuses, strict=True):
            task = self._tasks.pop(job.job_id, "")
            extra = {"job_id": job.job_id, "task": task,
                     "action": "postponed" if status is Status.SCHEDULED else str(status)}
            if status is Status.FAILED:
                self.log.error("job %s (%s) failed: %s", job.job_id, task, job.give_up, extra=extra)
            elif status is Status.CANCELLED:
                self.log.info("job %s (%s) cancelled", job.job_id, task, extra=extra)
            elif status is None:
                self.log.warning("job %s (%s): its lease was taken over before it was handed back",
                            job.job_id, task, extra={**extra, "action": "lease_lost"})
            else:
                self.log.debug("job %s (%s) handed back for a worker that has its task",
                          job.job_id, task, extra=extra)
