"""A Redis that can lose or evict jobs is named: ``jobq migrate`` and a starting worker
log a warning pointing to docs/redis.md when Redis keeps nothing on disk or may evict
keys, read from INFO so it works where CONFIG is renamed, and never fail for it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import jobq
from tests.redis.private import private_redis
from tests.services import unique_name

NO_DISK = "keeps nothing on disk"
UNREADABLE = "could not be read"
EVICTS = "maxmemory-policy allkeys-lru"


def _warnings(url: str, caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    """What ``migrate`` and then a burst worker warn about the store."""
    app = jobq.App(url, prefix=unique_name("jobq_t") + ":")
    app.task(name="noop")(lambda: None)
    try:
        with caplog.at_level(logging.WARNING, logger="jobq"):
            app.migrate()
            migrated = [r.getMessage() for r in caplog.records
                        if getattr(r, "action", "") == "store_warning"]
            caplog.clear()
            app.enqueue("noop")
            app.run_worker(concurrency=1, burst=True)
            worker = [r.getMessage() for r in caplog.records
                      if getattr(r, "action", "") == "store_warning"]
        assert app.stats() == {"default": {"succeeded": 1}}  # the warnings stop nothing
    finally:
        app.close()
    for message in migrated + worker:
        assert "docs/redis.md" in message and url.split("//")[1].split("/")[0] in message
    return migrated, worker


@pytest.mark.parametrize(("extra", "appendonly", "expected"), [
    ((), False, [NO_DISK]),
    (("--maxmemory-policy", "allkeys-lru"), True, [EVICTS]),
    (("--maxmemory-policy", "allkeys-lru"), False, [NO_DISK, EVICTS]),
    (("--save", "3600 1"), False, []),  # RDB snapshots: persistence, if coarse
    ((), True, []),
    (("--rename-command", "CONFIG", ""), False, [UNREADABLE]),
    (("--rename-command", "CONFIG", "", "--maxmemory-policy", "volatile-lru"), True,
     ["maxmemory-policy volatile-lru"]),
])
def test_a_redis_that_can_lose_jobs_is_named_once_by_migrate_and_by_a_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: tuple[str, ...],
    appendonly: bool, expected: list[str],
) -> None:
    with private_redis(tmp_path, appendonly=appendonly, extra=extra) as server:
        migrated, worker = _warnings(server.url, caplog)
    for said in (migrated, worker):
        assert len(said) == len(expected), said
        for message, words in zip(said, expected, strict=True):
            assert words in message, message
