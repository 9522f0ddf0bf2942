"""Reading a Redis server's own settings for what can lose jobs: no persistence, or an
eviction policy that may delete job keys when memory runs short.

INFO is read rather than CONFIG, so the check works where CONFIG is renamed or not
permitted; only the RDB save points are not in INFO, and are read with CONFIG GET when
it answers. Nothing here ever fails a caller: a server that will not say is let be.
"""

from __future__ import annotations

from typing import Any

DOCS = "docs/redis.md, \"Redis settings that can lose jobs\""


def info_fields(text: Any) -> dict[str, str]:
    """An INFO reply's ``name:value`` lines as a dict; {} for anything else."""
    if not isinstance(text, str):
        return {}
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def save_points(reply: Any) -> bool | None:
    """Whether a CONFIG GET save reply names RDB save points; None when CONFIG did not
    answer (renamed, or not permitted to this user)."""
    if isinstance(reply, list) and len(reply) == 2:
        return bool(str(reply[1]).strip())
    return None


def warnings(where: str, persistence: Any, memory: Any, save: Any) -> list[str]:
    """What to warn about, given the replies to INFO persistence, INFO memory and CONFIG
    GET save (an exception in place of a reply that was refused)."""
    found = []
    aof = info_fields(persistence).get("aof_enabled")
    rdb = save_points(save)
    if aof == "0" and rdb is False:
        found.append(
            f"Redis at {where} keeps nothing on disk (appendonly is off and no RDB save "
            "points are set): a restart of Redis loses every job. Set `appendonly yes`; "
            f"see {DOCS}"
        )
    elif aof == "0" and rdb is None:
        found.append(
            f"Redis at {where} has appendonly off, and its RDB save points could not be "
            "read (CONFIG is renamed or not permitted): unless RDB snapshots are set, a "
            f"restart of Redis loses every job. Set `appendonly yes`; see {DOCS}"
        )
    policy = info_fields(memory).get("maxmemory_policy")
    if policy and policy != "noeviction":
        found.append(
            f"Redis at {where} has maxmemory-policy {policy}: when memory runs short it "
            "deletes keys, jobs among them, without a word. Set `maxmemory-policy "
            f"noeviction`; see {DOCS}"
        )
    return found
