"""jobq: background jobs for Python, on SQLite, PostgreSQL or Redis."""

from jobq.app import App
from jobq.context import current_job
from jobq.errors import (
    ArgumentError,
    ConfigError,
    DependencyFailed,
    EnqueueIncomplete,
    IllegalTransition,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobqError,
    KeyConflict,
    LimitKeyError,
    Retry,
    SerializationError,
    Timeout,
    UnknownTask,
    WorkerLost,
)
from jobq.job import Job, Status
from jobq.retry import Backoff
from jobq.workflow import chain, chord, group

__version__ = "0.1.0"

__all__ = [
    "App",
    "ArgumentError",
    "Backoff",
    "ConfigError",
    "DependencyFailed",
    "EnqueueIncomplete",
    "IllegalTransition",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobNotFound",
    "JobqError",
    "KeyConflict",
    "LimitKeyError",
    "Retry",
    "SerializationError",
    "Status",
    "Timeout",
    "UnknownTask",
    "WorkerLost",
    "chain",
    "chord",
    "current_job",
    "group",
]
