"""The worker: claim → run → finish, pools, side loops, signals and hooks."""

from jobq.worker.context import RunningJob, current_job
from jobq.worker.hooks import Hook
from jobq.worker.options import WorkerOptions
from jobq.worker.worker import Worker

__all__ = ["Hook", "RunningJob", "Worker", "WorkerOptions", "current_job"]
