"""The Redis store's reads about jobs: one job, listings, a job's links, counts, the
oldest pending job, held and waiting jobs, the next due time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobq.backends.base import JobFilter, Links, WaitingTask
from jobq.backends.policy import fold_stats
from jobq.backends.redis.access import RedisAccess
from jobq.backends.redis.conn import same_args
from jobq.backends.redis.records import PendingGroups, newest_first, pairs
from jobq.job import JobRecord, Status


class RedisReads(RedisAccess):
    def get(self, job_id: str) -> JobRecord | None:
        self._ensure_schema()
        (record,) = self._hashes([job_id])
        return record

    def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        if query.limit <= 0:
            return []
        self._ensure_schema()
        wanted = set(query.statuses) | ({query.status} if query.status else set())
        statuses = wanted or set(Status)
        keys = [self.prefix + "status:" + s.value for s in statuses if s is not Status.PENDING]
        chunk = min(max(query.offset + query.limit, 64), 1000)
        groups = PendingGroups(self.prefix, chunk)
        if Status.PENDING in statuses:  # no status index: read from the ready sets
            found_groups = self._script("pending_groups", same_args((self.prefix,)))
            keys += groups.add(found_groups, query.queue)

        def fetch(starts: list[tuple[str, int]]) -> list[list[Any]]:
            replies = self._redis.pipeline([
                groups.command(key, start) or
                ("ZREVRANGE", key, start, start + chunk - 1, "WITHSCORES")
                for key, start in starts
            ])
            return [groups.entries(key, reply) for (key, _), reply in zip(starts, replies,
                                                                          strict=True)]

        ids = newest_first(keys, fetch, groups.page)
        found: list[JobRecord] = []
        skip = query.offset
        while len(found) < query.limit:
            batch = [job_id for _, job_id in zip(range(chunk), ids, strict=False)]
            if not batch:
                break
            for record in self._hashes(batch):
                if record is None or not _matches(record, query, wanted):
                    continue
                if skip:
                    skip -= 1
                elif len(found) < query.limit:
                    found.append(record)
        return found

    def links(self, job_id: str) -> Links:
        dependencies, dependents = self._script("links", same_args((self.prefix, job_id)))
        return Links(tuple(dependencies), tuple(dependents))

    def stats(self) -> dict[str, dict[str, int]]:
        rows = []
        for field, value in pairs(self._call("HGETALL", self.prefix + "counts")).items():
            status, _, queue = field.partition(":")
            rows.append((queue, status, int(value)))
        return fold_stats(rows)

    def oldest_pending(self) -> dict[str, float]:
        flat = self._script("oldest_pending", same_args((self.prefix,)))
        return {flat[i]: float(flat[i + 1]) for i in range(0, len(flat), 2)}

    def limit_held(self, queues: Sequence[str] | None = None) -> int:
        if queues is not None and not queues:
            return 0  # the script reads no queue names as all of them
        return int(self._script("limit_held", same_args((self.prefix, *(queues or ())))))

    def waiting_tasks(self) -> list[WaitingTask]:
        flat = self._script("waiting_tasks", same_args((self.prefix,)))
        return [WaitingTask(flat[i], int(flat[i + 1]), float(flat[i + 2]))
                for i in range(0, len(flat), 3)]

    def next_due(self, queues: Sequence[str]) -> float | None:
        if not queues:
            return None
        value = self._script("next_due", same_args((self.prefix, *queues)))
        return None if value is None else float(value)


def _matches(record: JobRecord, query: JobFilter, statuses: set[Status]) -> bool:
    return (
        (not statuses or record.status in statuses)
        and (query.task is None or record.task == query.task)
        and (query.queue is None or record.queue == query.queue)
    )
