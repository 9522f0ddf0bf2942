"""How the Redis store is reached: its connections and scripts (``conn.py``), the schema
check each process makes before its first use, and reading job hashes. The store's
methods build on ``RedisAccess``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from jobq.backends.policy import ProcessBound, schema_refusal
from jobq.backends.redis.conn import Connections, Script, load_scripts, same_args
from jobq.backends.redis.migrate import migrate_1_to_2, migrate_2_to_3, migrate_3_to_4
from jobq.backends.redis.records import pairs, record_of
from jobq.backends.redis.wake import WakeListener
from jobq.config import Settings
from jobq.errors import SchemaError
from jobq.job import JobRecord

# 2: a job's fixed fields in one spec field, no pending index; 3: workflows
SCHEMA_VERSION = 4


def num(value: float | int) -> str:
    """A number as a script argument."""
    return repr(float(value))


class RedisAccess:
    """One Redis (``redis://`` or ``rediss://``) under one key prefix. Connects on first
    use; a forked child opens its own connections."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.url
        self.prefix = settings.prefix
        self._retention_ms = (
            "" if settings.retention is None else str(max(1, round(settings.retention * 1000)))
        )
        self._redis = Connections(settings.url)
        self._scripts: dict[str, Script] = load_scripts()
        self._checked = ProcessBound()  # the process that found the schema at our version
        # A claim whose reply was lost: the next claim re-sends its token to recover the
        # batch it may have leased, rather than leave it to expire.
        self._lost_claim: tuple[str, str, tuple[str, ...]] | None = None
        # Outcomes whose finish call failed: when re-sent they may find themselves applied.
        self._maybe_finished: set[tuple[str, str]] = set()
        self._listener: WakeListener | None = None
        self._listener_lock = threading.Lock()
        self._wait_queues: tuple[str, ...] = (settings.default_queue,)
        self._claim_mark: int | None = None
        self._due_at: float | None = None

    # -- plumbing ------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self._checked.mine():
            return
        key = self.prefix + "schema"
        _, found = self._redis.pipeline([("SET", key, SCHEMA_VERSION, "NX"), ("GET", key)])
        self._check_version(found)
        self._checked.bind()

    def _check_version(self, found: Any) -> None:
        try:
            version = int(found)
        except (TypeError, ValueError):
            version = 0
        if version < 1:
            raise SchemaError(
                f"{self._redis.safe_url} key {self.prefix}schema holds {found!r}, not a jobq "
                "schema version; is another program using this key prefix?"
            )
        env = "" if self.prefix == "jobq:" else f"JOBQ_PREFIX={self.prefix} "
        problem = schema_refusal(
            f"{self._redis.safe_url} (prefix {self.prefix!r})", version, SCHEMA_VERSION,
            f"stop the workers and run `{env}jobq migrate --url {self._redis.safe_url}`")
        if problem is not None:
            raise problem

    def _script(self, name: str, build: Callable[[bool], Sequence[Any]]) -> Any:
        self._ensure_schema()
        return self._redis.script(self._scripts[name], build)

    def _call(self, *args: Any) -> Any:
        self._ensure_schema()
        return self._redis.command(*args)

    def _hashes(self, ids: Sequence[str]) -> list[JobRecord | None]:
        flats = json.loads(self._script("read_jobs", same_args((self.prefix, *ids))))
        return [
            record_of(i, pairs(flat)) if flat else None
            for i, flat in zip(ids, flats, strict=True)
        ]

    def close(self) -> None:
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
        self._redis.close()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> int:
        self._checked.unbind()
        found = self._redis.command("GET", self.prefix + "schema")
        if found == "1":
            migrate_1_to_2(self._redis, self._scripts["migrate_1_to_2"], self.prefix)
            found = "2"
        if found == "2":
            migrate_2_to_3(self._redis, self.prefix)
            found = "3"
        if found == "3":
            migrate_3_to_4(self._redis, self.prefix)
        self._ensure_schema()
        return SCHEMA_VERSION

    def exists(self) -> bool:
        return bool(self._redis.command("EXISTS", self.prefix + "schema"))

    def check_schema(self) -> None:
        self._ensure_schema()
