"""Upgrading a Redis store written by an older jobq to the current key layout.

Layout 1 kept each fixed field of a job as a hash field of its own and indexed pending
jobs in ``status:pending``; layout 2 packs those fields into one ``spec`` field and lists
pending jobs from the ready sets (``keys.md``). The upgrade rewrites the job hashes in
place, in batches, and writes the new version last, so clients of version 2 refuse the
store until it is done and an interrupted run can simply be run again.

Layout 3 adds workflows (new keys and job hash fields only). Nothing is rewritten, but
the version goes up so that workers of an earlier release, which would finish a job
without releasing what waits for it, refuse the store.

Layout 4 adds limits (the ``limit`` and ``limit_held_since`` job hash fields and the
``limits``, ``limits:held`` and ``running:<key>`` keys). Nothing is rewritten; the
version goes up so that workers of an earlier release, which would run a limited job
without looking at its limit, refuse the store.
"""

from __future__ import annotations

from jobq.backends.redis.conn import Connections, Script, same_args
from jobq.errors import SchemaError

SCAN_BATCH = 500


def glob_escape(text: str) -> str:
    """``text`` matched literally in a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _no_old_workers(conns: Connections, prefix: str) -> None:
    """Refuse while a job is held under a live lease: workers of the release that wrote
    the store (this one refuses an old layout) are still at work."""
    seconds, micros = conns.command("TIME")
    now = int(seconds) + int(micros) / 1e6
    running = int(conns.command("ZCOUNT", prefix + "leases", f"({now!r}", "+inf"))
    if running:
        raise SchemaError(
            f"{conns.safe_url} (prefix {prefix!r}): {running} job(s) are running under "
            "live leases, so workers of the old jobq are still at work; stop every worker "
            "and every process that enqueues, then run `jobq migrate` again"
        )


def migrate_1_to_2(conns: Connections, script: Script, prefix: str) -> None:
    """Upgrade the layout 1 store under ``prefix`` to layout 2."""
    # Workers of layout 1 would go on writing and reading the old fields.
    _no_old_workers(conns, prefix)
    pattern = glob_escape(prefix) + "job:*"
    skip = len(prefix) + len("job:")
    cursor = "0"
    while True:
        cursor, names = conns.command("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_BATCH)
        if names:
            ids = (prefix, *(name[skip:] for name in names))
            conns.script(script, same_args(ids))
        if cursor == "0":
            break
    conns.pipeline([("MULTI",), ("UNLINK", prefix + "status:pending"),
                    ("SET", prefix + "schema", 2), ("EXEC",)])


def migrate_2_to_3(conns: Connections, prefix: str) -> None:
    """Upgrade the layout 2 store under ``prefix`` to layout 3 (workflows)."""
    _no_old_workers(conns, prefix)
    conns.command("SET", prefix + "schema", 3)


def migrate_3_to_4(conns: Connections, prefix: str) -> None:
    """Upgrade the layout 3 store under ``prefix`` to layout 4 (limits)."""
    _no_old_workers(conns, prefix)
    conns.command("SET", prefix + "schema", 4)
