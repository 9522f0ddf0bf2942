"""Hooks: what hears of each job a worker claims and of each outcome it records.

The worker calls every hook in turn from its loop; logging is the first, and metrics or
tracing join by passing ``hooks=[...]`` to the worker, never by changing the loop. A hook
runs on the worker's loop thread, so it must be quick; one that raises is logged and
the worker goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from jobq.backends.base import ClaimedJob, Outcome
from jobq.job import Status

log = logging.getLogger("jobq.worker")


class Hook:
    """Override the methods you need; the defaults do nothing."""

    def on_claimed(self, job: ClaimedJob) -> None:
        """The worker claimed ``job`` (now ``running``); a pool will start it soon."""

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool) -> None:
        """The worker recorded ``outcome``; ``applied`` is False when the store refused it
        because another attempt holds the job's lease now."""


class LogHook(Hook):
    """One log line per state change, with ``job_id``, ``task`` and ``action`` fields."""

    def on_claimed(self, job: ClaimedJob) -> None:
        if not log.isEnabledFor(logging.INFO):  # with INFO off, build no fields per job
            return
        # Written when the job is claimed (its state becomes running), which with a
        # prefetch buffer can be a moment before a pool starts it: hence "claimed".
        log.info("job %s (%s) claimed, attempt %d/%d", job.id, job.task, job.attempts,
                 job.max_attempts, extra={"job_id": job.id, "task": job.task,
                                          "action": Status.RUNNING.value,
                                          "attempt": job.attempts})

    def on_outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool) -> None:
        # Most outcomes are successes, logged at INFO: with INFO off, build no fields.
        if applied and outcome.status is Status.SUCCEEDED and not log.isEnabledFor(logging.INFO):
            return
        extra: dict[str, Any] = {
            "job_id": job.id, "task": job.task, "action": outcome.status.value,
            "attempt": job.attempts,
        }
        if not applied:
            log.warning(
                "job %s (%s): result discarded, its lease was taken over by another attempt",
                job.id, job.task, extra={**extra, "action": "lease_lost"},
            )
            return
        err = outcome.error
        if outcome.status is Status.SUCCEEDED:
            log.info("job %s (%s) succeeded", job.id, job.task, extra=extra)
        elif outcome.status is Status.SCHEDULED:
            log.warning(
                "job %s (%s) attempt %d/%d failed (%s: %s); retry in %.1fs", job.id, job.task,
                job.attempts, job.max_attempts, err and err.type, err and err.message,
                (outcome.run_at or 0) - time.time(), extra=extra,
            )
        elif outcome.status is Status.FAILED:
            log.error("job %s (%s) failed after %d attempt(s): %s: %s", job.id, job.task,
                      job.attempts, err and err.type, err and err.message, extra=extra)
        elif outcome.status is Status.CANCELLED:
            log.info("job %s (%s) cancelled while running", job.id, job.task, extra=extra)
        else:
            log.info("job %s (%s) handed back to the queue", job.id, job.task, extra=extra)


class Hooks:
    """The worker's hooks, called in order; a hook that raises is logged and skipped."""

    def __init__(self, hooks: tuple[Hook, ...]) -> None:
        self._hooks = (LogHook(), *hooks)

    def claimed(self, job: ClaimedJob) -> None:
        self._each(job, lambda hook: hook.on_claimed(job))

    def outcome(self, job: ClaimedJob, outcome: Outcome, applied: bool) -> None:
        self._each(job, lambda hook: hook.on_outcome(job, outcome, applied))

    def _each(self, job: ClaimedJob, call: Callable[[Hook], None]) -> None:
        for hook in self._hooks:
            try:
                call(hook)
            except Exception:
                log.exception("hook %r failed on job %s", hook, job.id,
                              extra={"job_id": job.id, "action": "hook_error"})
