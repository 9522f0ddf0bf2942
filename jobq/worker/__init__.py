"""The worker: claim → run → finish, pools, side loops and signals."""

from jobq.worker.context import RunningJob, current_job
from jobq.worker.worker import Worker

__all__ = ["RunningJob", "Worker", "current_job"]
