"""Reading jobq's Redis keys behind its back, and checking they agree with each other.

``check_layout`` asserts the invariants listed in ``jobq/backends/redis/keys.md``: after any
operation every job sits in exactly the indexes its status calls for, and the counts and
idempotency keys match. Run after every kind of operation, it shows each one leaves the
store whole, which is what doing each one in a single script is for.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from tests.services import REDIS_URL

FINISHED = ("succeeded", "failed", "cancelled")
STATUSES = ("blocked", "scheduled", "pending", "running", *FINISHED)


def raw_client(url: str = REDIS_URL) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def keys_of(client: redis.Redis, prefix: str) -> set[str]:
    return set(client.scan_iter(match=_glob(prefix) + "*", count=1000))


def _glob(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in text)


def check_layout(client: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    """Assert the store under ``prefix`` is consistent; return the job hashes by id."""
    jobs: dict[str, dict[str, Any]] = {}
    for key in keys_of(client, prefix + "job:"):
        jobs[key[len(prefix) + 4:]] = client.hgetall(key)

    # Pending jobs are indexed by their ready sets alone (checked below).
    assert not client.exists(prefix + "status:pending")
    for status in (s for s in STATUSES if s != "pending"):
        indexed = set(client.zrange(prefix + "status:" + status, 0, -1))
        holding = {i for i, h in jobs.items() if h["status"] == status}
        assert indexed == holding, f"status:{status} holds {indexed}, jobs say {holding}"
        for job_id in indexed:
            score = client.zscore(prefix + "status:" + status, job_id)
            assert score == int(jobs[job_id]["seq"])

    queues = {h["queue"] for h in jobs.values()}
    for queue in queues:
        members = client.zrange(prefix + "ready:" + queue, 0, -1)
        ready = {m[17:] for m in members}
        assert ready == _ids(jobs, "pending", queue), f"ready:{queue}"
        assert all(int(m[:16]) == int(jobs[m[17:]]["seq"]) for m in members)
        scheduled = set(client.zrange(prefix + "scheduled:" + queue, 0, -1))
        assert scheduled == _ids(jobs, "scheduled", queue), f"scheduled:{queue}"
    assert set(client.zrange(prefix + "leases", 0, -1)) == _ids(jobs, "running")
    for status in FINISHED:
        members = client.zrange(prefix + "finished:" + status, 0, -1)
        assert {m.split("\0")[0] for m in members} == _ids(jobs, status), f"finished:{status}"

    counts = Counter(f"{h['status']}:{h['queue']}" for h in jobs.values())
    stored = {k: int(v) for k, v in client.hgetall(prefix + "counts").items()}
    assert stored == dict(counts)

    waiting = {i: h["spec"].split("\x1f", 5)[5] for i, h in jobs.items()
               if h.get("unknown_task_since")}
    assert not any(jobs[i]["status"] in FINISHED for i in waiting)
    tasks = set(client.smembers(prefix + "unknown"))
    assert tasks == set(waiting.values())
    for task in tasks:
        members = set(client.zrange(f"{prefix}unknown:{task}", 0, -1))
        assert members == {i for i, t in waiting.items() if t == task}, f"unknown:{task}"

    live_keys = {h["key"]: i for i, h in jobs.items()
                 if h.get("key") and h["status"] not in FINISHED}
    stored_keys = {k[len(prefix) + 4:]: client.get(k) for k in keys_of(client, prefix + "key:")}
    assert stored_keys == live_keys
    check_workflow_layout(client, prefix, jobs)
    return jobs


def check_workflow_layout(client: redis.Redis, prefix: str,
                          jobs: dict[str, dict[str, Any]]) -> None:
    """The workflow keys agree with each other and with the job hashes (keys.md)."""
    links = {kind: {k[len(prefix) + len(kind) + 1:] for k in keys_of(client, f"{prefix}{kind}:")}
             for kind in ("deps", "dependents", "results")}
    for kind, ids in links.items():
        assert ids <= set(jobs), f"{kind}: keys of jobs that are gone: {ids - set(jobs)}"
    for job_id, h in jobs.items():
        unreleased = "waiting" in h
        assert unreleased or not {"shape", "due"} & set(h), job_id
        assert unreleased or job_id not in links["results"], job_id
        if h["status"] == "blocked":
            assert unreleased, f"blocked job {job_id} has no open count"
        if not unreleased:
            continue
        assert h["status"] in ("blocked", "failed", "cancelled"), (job_id, h["status"])
        deps = client.lrange(f"{prefix}deps:{job_id}", 0, -1)
        met = set(client.hkeys(f"{prefix}results:{job_id}"))
        assert int(h["waiting"]) == sum(str(i) not in met for i in range(len(deps))), job_id
        for position, dep in enumerate(deps):
            if dep in jobs:
                assert client.hget(f"{prefix}dependents:{dep}", job_id) == str(position)
    for dep in links["dependents"]:
        for waiter, position in client.hgetall(f"{prefix}dependents:{dep}").items():
            if waiter in jobs:
                assert client.lindex(f"{prefix}deps:{waiter}", int(position)) == dep


def _ids(jobs: dict[str, dict[str, Any]], status: str, queue: str | None = None) -> set[str]:
    return {i for i, h in jobs.items()
            if h["status"] == status and (queue is None or h["queue"] == queue)}
