"""The worker: claim → run → finish, pools, side loops, signals and hooks.

Its names load on first use, so importing ``jobq.worker.hooks`` (say) does not pull in the
whole worker."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobq.context import RunningJob, current_job
    from jobq.worker.hooks import Hook
    from jobq.worker.options import WorkerOptions
    from jobq.worker.worker import Worker

__all__ = ["Hook", "RunningJob", "Worker", "WorkerOptions", "current_job"]

_HOMES = {"Hook": "jobq.worker.hooks", "RunningJob": "jobq.context",
          "Worker": "jobq.worker.worker", "WorkerOptions": "jobq.worker.options",
          "current_job": "jobq.context"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'jobq.worker' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
