"""Job hashes as ``JobRecord`` values, and listing jobs newest first across the
per-status indexes of the Redis backend."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from jobq.backends.base import Throughput, WorkerInfo, decode_json, make_error, utc
from jobq.job import DEFAULT_MAX_LOST, JobError, JobRecord, Status

EPOCH = datetime.fromtimestamp(0, UTC)


SEP = "\x1f"


class Spec(NamedTuple):
    """The fields a job keeps from enqueue on, stored as one hash field ``spec``: a
    Redis hash scans its fields on every write while small, so fewer fields make every
    enqueue cheaper. Numbers are text, as the hash keeps them."""

    max_attempts: str
    created_at: str
    timeout: str  # "" for none
    args: str  # JSON
    kwargs: str  # JSON
    task: str


DAMAGED_SPEC = Spec("1", "", "", "[]", "{}", "")


def pack_spec(*fields: str) -> str:
    """``Spec`` fields joined by the unit separator (0x1f). Numbers and JSON text never
    hold a raw 0x1f (JSON escapes control characters), so only the task name, kept last,
    may, and it still splits off whole."""
    return SEP.join(fields)


def unpack_spec(text: str | None) -> Spec | None:
    """The ``Spec`` packed in ``text``, or None when it is missing or damaged."""
    parts = text.split(SEP, 5) if text else []
    return Spec(*parts) if len(parts) == 6 else None


def pairs(flat: Sequence[Any] | None) -> dict[str, str]:
    """A flat [field, value, ...] reply as a dict."""
    if not flat:
        return {}
    return dict(zip(flat[::2], flat[1::2], strict=True))


def worker_json(worker: WorkerInfo) -> str:
    """A worker as the registry stores it (``workers`` hash, keys.md)."""
    return json.dumps({"host": worker.host, "pid": worker.pid, "started_at": worker.started_at,
                       "queues": list(worker.queues), "tasks": list(worker.tasks)})


def worker_of(worker_id: str, text: str, last_seen: float) -> WorkerInfo | None:
    """A registry entry as a WorkerInfo; None for a damaged one."""
    try:
        data = json.loads(text)
        return WorkerInfo(worker_id, str(data["host"]), int(data["pid"]),
                          float(data["started_at"]), tuple(data["queues"]),
                          tuple(data["tasks"]), last_seen)
    except (ValueError, KeyError, TypeError):
        return None


def number(text: str | None, kind: Callable[[str], Any], default: Any) -> Any:
    if text is None or text == "":
        return default
    try:
        return kind(text)
    except ValueError:
        return default


def throughput_rows(flat: Sequence[Any]) -> list[Throughput]:
    """``throughput.lua``'s reply as rows by minute, then queue."""
    rows: list[Throughput] = []
    for i in range(0, len(flat), 2):
        by_queue: dict[str, dict[str, int]] = {}
        for field, count in pairs(flat[i + 1]).items():
            outcome, _, queue = field.partition(":")
            by_queue.setdefault(queue, {})[outcome] = int(count)
        rows.extend(Throughput(int(flat[i]), queue, **counts)
                    for queue, counts in sorted(by_queue.items()))
    return rows


def record_of(job_id: str, h: dict[str, str]) -> JobRecord:
    """The record a job hash holds. A damaged or foreign hash never raises: it comes back
    as a failed job whose error says what is wrong with it."""
    problem = None
    try:
        status = Status(h.get("status", ""))
    except ValueError:
        status = Status.FAILED
        problem = f"unknown status {h.get('status')!r}"
    spec = unpack_spec(h.get("spec"))
    if spec is None:
        problem = problem or "its spec field is missing or damaged"
        spec = DAMAGED_SPEC
    args = decode_json(spec.args, [])
    kwargs = decode_json(spec.kwargs, {})
    error = make_error(h.get("error_type"), h.get("error_message"), h.get("error_traceback"))
    if problem is None and not spec.task:
        problem = "no task name"
    if problem is not None:
        status = Status.FAILED
        error = JobError("CorruptJob", f"job {job_id} is damaged in the store: {problem}")
    return JobRecord(
        id=job_id,
        task=spec.task,
        queue=h.get("queue", ""),
        args=args if isinstance(args, list) else [args],
        kwargs=kwargs if isinstance(kwargs, dict) else {},
        priority=number(h.get("priority"), int, 0),
        status=status,
        attempts=number(h.get("attempts"), int, 0),
        max_attempts=number(spec.max_attempts, int, 1),
        run_at=utc(number(h.get("run_at"), float, None)) or EPOCH,
        created_at=utc(number(spec.created_at, float, None)) or EPOCH,
        started_at=utc(number(h.get("started_at"), float, None)),
        finished_at=utc(number(h.get("finished_at"), float, None)),
        lease_expires_at=utc(number(h.get("lease_expires_at"), float, None)),
        worker_id=h.get("worker_id") or None,
        key=h.get("key") or None,
        result=decode_json(h.get("result"), None),
        error=error,
        timeout=number(spec.timeout, float, None),
        cancel_requested=h.get("cancel_requested") == "1",
        lost_leases=number(h.get("lost_leases"), int, 0),
        max_lost=number(h.get("max_lost"), int, DEFAULT_MAX_LOST),
        unknown_task_since=utc(number(h.get("unknown_task_since"), float, None)),
        limit_key=h["limit"].split("\x1f", 3)[-1] if h.get("limit") else None,
        limit_held_since=utc(number(h.get("limit_held_since"), float, None)),
    )


Fetch = Callable[[list[tuple[str, int]]], list[list[Any]]]


class PendingGroups:
    """Pending jobs as sources for ``newest_first``. They have no status index: each
    (queue, priority) group of a ready set holds its jobs at consecutive ranks, oldest
    first (``pending_groups.lua`` finds them), so a group is paged by rank and read
    backwards. Entries that moved to another group since (a listing taken while jobs
    move) are dropped rather than merged out of order."""

    def __init__(self, prefix: str, chunk: int) -> None:
        self.prefix = prefix
        self.chunk = chunk
        self._groups: dict[str, tuple[str, str, int, int]] = {}
        self._group_page = chunk

    def page(self, name: str) -> int:
        """Entries per read of source ``name``: the listing's chunk shared among the
        groups (at least 8), so that many priorities do not each send a whole chunk."""
        return self._group_page if name in self._groups else self.chunk

    def add(self, flat: Sequence[Any], queue: str | None) -> list[str]:
        """Take ``pending_groups``' reply; return a source name per group (``queue``:
        only that queue's)."""
        names = []
        for i in range(0, len(flat), 4):
            if queue is None or flat[i] == queue:
                name = f"\0pending {len(self._groups)}"  # never a key: keys start with prefix
                self._groups[name] = (f"{self.prefix}ready:{flat[i]}", flat[i + 1],
                                      int(flat[i + 2]), int(flat[i + 3]))
                names.append(name)
        self._group_page = max(8, self.chunk // max(1, len(self._groups)))
        return names

    def command(self, name: str, start: int) -> tuple[Any, ...] | None:
        """The ZRANGE for a group's entries from ``start`` (newest first); None when
        ``name`` is not a group."""
        group = self._groups.get(name)
        if group is None:
            return None
        key, _, first, count = group
        last = first + count - 1 - start
        if last < first:
            return ("ZRANGE", key, 1, 0)  # nothing left: an empty reply in the same pipeline
        return ("ZRANGE", key, max(first, last - self._group_page + 1), last, "WITHSCORES")

    def entries(self, name: str, reply: list[Any]) -> list[Any]:
        """A group's reply as a status index's (flat id, seq, newest first); any other
        reply as it is."""
        group = self._groups.get(name)
        if group is None:
            return reply
        score = float(group[1])
        out: list[Any] = []
        for i in range(len(reply) - 2, -1, -2):
            member = reply[i]
            if float(reply[i + 1]) == score:
                out += (member[17:], int(member[:16]))
        return out


def newest_first(keys: Sequence[str], fetch: Fetch,
                 page: Callable[[str], int]) -> Iterator[str]:
    """Job ids from several sorted sets (scored by insertion sequence), newest first.

    ``fetch`` takes [(key, start), ...] and returns, per key, a flat ZREVRANGE … WITHSCORES
    reply of up to ``page(key)`` entries from ``start``: the first page of every key comes
    in one round trip, later pages only for the key that ran dry.
    """
    buffers: dict[str, list[tuple[float, str]]] = {}
    offsets = dict.fromkeys(keys, 0)

    def refill(wanted: list[str]) -> None:
        for key, flat in zip(wanted, fetch([(k, offsets[k]) for k in wanted]), strict=True):
            entries = [(-float(flat[i + 1]), flat[i]) for i in range(0, len(flat), 2)]
            offsets[key] += len(entries)
            buffers[key] = entries if len(entries) == page(key) else [*entries, (0.0, "")]

    refill(list(keys))
    heap: list[tuple[float, str, str, int]] = []
    for key in keys:
        if buffers[key] and buffers[key][0][1]:
            score, job_id = buffers[key][0]
            heap.append((score, job_id, key, 0))
    heapq.heapify(heap)
    while heap:
        _, job_id, key, index = heapq.heappop(heap)
        yield job_id
        index += 1
        if index == len(buffers[key]):
            refill([key])
            index = 0
        score, next_id = buffers[key][index] if buffers[key] else (0.0, "")
        if next_id:  # "" marks the end of the key
            heapq.heappush(heap, (score, next_id, key, index))
