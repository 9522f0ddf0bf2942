"""The JSON API: ``/api/jobs`` and ``/api/stats``. A job is the shape ``jobq show --json``
prints (``jobq.jobjson.job_json``); the counts are ``jobq stats --json``'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from jobq.errors import JobNotFound
from jobq.job import Status
from jobq.jobjson import job_json
from jobq.web.guard import AUTHORIZED
from jobq.web.state import state

MAX_LIMIT = 500

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"},
                                 description="UTC, ISO-8601 with a Z")]


class JobErrorOut(BaseModel):
    type: str
    message: str
    traceback: str


class JobOut(BaseModel):
    """A job, every field: the same keys and values as ``jobq show --json``."""

    id: str
    task: str
    queue: str
    status: Status
    priority: int
    attempts: int
    max_attempts: int
    args: Any = Field(description="a JSON list; a stored value that is not JSON comes as text")
    kwargs: Any = Field(description="a JSON object; a stored value that is not JSON comes as "
                        "text")
    key: str | None
    timeout: int | float | None
    result: Any
    error: JobErrorOut | None
    run_at: Timestamp
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    lease_expires_at: Timestamp | None
    worker_id: str | None
    cancel_requested: bool
    meta: dict[str, Any]
    lost_leases: int = Field(description="leases this job lost to a worker that died or was "
                             "cut off; at max_lost it fails with WorkerLost")
    max_lost: int
    unknown_task_since: Timestamp | None = Field(
        description="since when workers that took it lacked its task (a rolling deploy)")
    limit_key: str | None = Field(
        description="the key its rate_limit / concurrency_limit counts under; null: no limit")
    limit_held_since: Timestamp | None = Field(
        description="since when claims have held it back for its limit; null once it starts")


class JobDetailOut(JobOut):
    """One job as ``jobq show --json`` gives it: also the ids of the jobs it waits for (in
    order) and of the jobs that wait for it."""

    dependencies: list[str]
    dependents: list[str]


class WaitingOut(BaseModel):
    jobs: int
    since: Timestamp


class StatsOut(BaseModel):
    """Counts by queue then state, every state present; ``total`` sums the queues; the
    workers running; waiting jobs held back by their rate or concurrency limit; jobs
    waiting for a task that no running worker has (per task)."""

    queues: dict[str, dict[Status, int]]
    total: dict[Status, int]
    workers: int
    waiting_on_limits: int
    waiting_for_tasks: dict[str, WaitingOut]
    oldest_pending: dict[str, Timestamp] = Field(
        description="per queue with pending jobs, since when its longest-waiting one is due")


class EnqueueIn(BaseModel):
    """A job to enqueue: a registered task by name, its arguments, optional overrides."""

    model_config = ConfigDict(extra="forbid", strict=True)

    task: str = Field(min_length=1, description="the task's registered name")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = Field(None, min_length=1, description="default: the task's")
    priority: int | None = Field(None, description="higher runs first; default: the task's")
    delay: float | None = Field(None, ge=0, description="seconds from now")
    key: str | None = Field(None, min_length=1, description="idempotency key: while a job "
                            "with it is unfinished, that job is returned instead")


class ErrorOut(BaseModel):
    detail: str = Field(description="what was wrong and what to do, one line")


class InvalidOut(ErrorOut):
    errors: list[dict[str, Any]]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    model: dict[int, type[BaseModel]] = {422: InvalidOut}
    return {s: {"model": model.get(s, ErrorOut)} for s in (*statuses, 503)}


_bearer = HTTPBearer(auto_error=False, description="the token jobq serve printed, or its "
                     "--token / $JOBQ_API_TOKEN")


def _changing_call(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Puts the bearer token in the OpenAPI schema. The check itself runs in
    ``jobq.web.guard``, before the body is read; this refuses a request it did not pass."""
    if credentials is None or not request.scope.get(AUTHORIZED):
        raise HTTPException(401, "send the header Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": 'Bearer realm="jobq"'})


# Reading calls, and changing calls (which need the token): two routers, one prefix.
router = APIRouter(prefix="/api", tags=["jobs"])
changing = APIRouter(prefix="/api", tags=["jobs"], dependencies=[Depends(_changing_call)],
                     responses=_errors(401, 415))


@router.get("/jobs", response_model=list[JobOut], responses=_errors(422))
def list_jobs(
    request: Request,
    status: Status | None = None,
    task: str | None = None,
    queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"at most {MAX_LIMIT}")] = 50,
) -> list[dict[str, Any]]:
    """Jobs matching the filters, newest first."""
    jobs = state(request).app.jobs(status=status, task=task, queue=queue, limit=limit)
    return [job_json(job.record) for job in jobs]


@router.get("/jobs/{job_id}", response_model=JobDetailOut, responses=_errors(404))
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """One job, every field, and its links in a workflow."""
    app = state(request).app
    job = app.get_job(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id {job_id!r}")
    return job_json(job.record, app.backend.links(job.id))


@router.get("/stats", response_model=StatsOut, responses=_errors())
def stats(request: Request) -> dict[str, Any]:
    """Counts of jobs by queue and state (reused for a couple of seconds)."""
    result: dict[str, Any] = state(request).stats.get()
    return result


@changing.post("/jobs", status_code=201, response_model=JobOut, responses=_errors(404, 422))
def enqueue(request: Request, body: EnqueueIn) -> dict[str, Any]:
    """Enqueue a registered task by name. With a ``key`` that an unfinished job holds,
    that job comes back instead of a new one."""
    shared = state(request)
    task = shared.app.get_task(body.task)
    job = task.with_options(delay=body.delay, priority=body.priority, queue=body.queue,
                            key=body.key).enqueue(*body.args, **body.kwargs)
    shared.stats.clear()
    return job_json(job.record)


@changing.post("/jobs/{job_id}/retry", response_model=JobOut, responses=_errors(404, 409))
def retry(request: Request, job_id: str) -> dict[str, Any]:
    """Run a failed or cancelled job again, with a fresh set of attempts."""
    shared = state(request)
    job = shared.app.retry(job_id)  # not failed or cancelled: IllegalTransition, a 409
    shared.stats.clear()
    return job_json(job.record)


@changing.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=_errors(404, 409))
def cancel(request: Request, job_id: str) -> dict[str, Any]:
    """Cancel a job: a waiting one never runs; a running one is asked to stop."""
    shared = state(request)
    changed = shared.app.cancel(job_id)  # an unknown id: JobNotFound, a 404
    job = shared.app.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} was deleted while being cancelled")
    if not changed:  # it had already finished
        raise HTTPException(409, f"job {job.id} already ended {job.status.value}; there is "
                            "nothing to cancel")
    shared.stats.clear()
    return job_json(job.record)

