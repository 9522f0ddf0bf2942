"""jobq: background jobs for Python, on SQLite, PostgreSQL or Redis."""

from jobq.app import App
from jobq.errors import (
    ArgumentError,
    ConfigError,
    IllegalTransition,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobqError,
    KeyConflict,
    Retry,
    SerializationError,
    Timeout,
    UnknownTask,
    WorkerLost,
)
from jobq.job import Job, Status
from jobq.retry import Backoff
from jobq.worker.context import current_job

__version__ = "0.1.0"

__all__ = [
    "App",
    "ArgumentError",
    "Backoff",
    "ConfigError",
    "IllegalTransition",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobNotFound",
    "JobqError",
    "KeyConflict",
    "Retry",
    "SerializationError",
    "Status",
    "Timeout",
    "UnknownTask",
    "WorkerLost",
    "current_job",
]
