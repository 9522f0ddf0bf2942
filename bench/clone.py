"""Fill a store with finished jobs fast, by copying one job the system itself finished.

Draining a million jobs through every worker would take hours, so the backlog levels are
reached by cloning: after a real drain, one finished job is taken as the template and its
whole footprint is copied under fresh ids of the same shape: its row (SQL stores), or
every Redis key named after it and every sorted set / set / hash / list entry that holds
its id (Redis stores). Ids keep their length, so binary values (pickles) stay valid.
A system that keeps nothing once a job is done has no footprint: its backlog is empty
by construction, and the report says so.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections import Counter as Tally
from typing import Any

ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
BATCH = 1000


def _fresh(template: bytes) -> bytes:
    new = uuid.uuid4()
    return (str(new) if b"-" in template else new.hex).encode()


class RedisCloner:
    """Clones the footprint of one finished job in a Redis database holding one system."""

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.template: bytes | None = None
        self.keys: list[tuple[bytes, bytes, Any, int]] = []  # name, type, value, pttl
        self.members: list[tuple[bytes, bytes, Any]] = []  # container, type, entry
        self.counters: list[tuple[bytes, bytes]] = []  # hash fields counting finished jobs
        self.finished = 0

    def discover(self) -> bool:
        """Find a finished job's footprint; False when the store keeps none."""
        patterns: Tally[bytes] = Tally()
        example: dict[bytes, bytes] = {}
        names = list(self.redis.scan_iter(count=5000))
        for name in names:
            found = ID.search(name)
            if found:
                pattern = name.replace(found.group(), b"{id}")
                patterns[pattern] += 1
                example.setdefault(pattern, found.group())
        if not patterns:
            return False
        pattern, self.finished = patterns.most_common(1)[0]
        self.template = example[pattern]
        for name in names:
            if self.template in name:
                self._add_key(name)
            elif not ID.search(name):  # indexes and counters, not other jobs' own keys
                self._add_membership(name)
        return True

    def _add_key(self, name: bytes) -> None:
        kind = self.redis.type(name)
        pttl = max(int(self.redis.pttl(name)), 0)
        if kind == b"string":
            value: Any = self.redis.get(name)
        elif kind == b"hash":
            value = self.redis.hgetall(name)
        else:
            value = self.redis.dump(name)
        self.keys.append((name, kind, value, pttl))

    def _add_membership(self, name: bytes) -> None:
        kind, pattern = self.redis.type(name), b"*" + self.template + b"*"  # ids are glob-safe
        if kind == b"zset":
            for member, score in self.redis.zscan_iter(name, match=pattern):
                self.members.append((name, kind, (member, score)))
        elif kind == b"set":
            for member in self.redis.sscan_iter(name, match=pattern):
                self.members.append((name, kind, member))
        elif kind == b"hash":
            for field, value in self.redis.hscan_iter(name, match=pattern):
                self.members.append((name, kind, (field, value)))
            for field, value in self.redis.hgetall(name).items():
                # A counter of finished jobs (e.g. per-status counts) grows with the clones.
                if value == str(self.finished).encode() and self.template not in field:
                    self.counters.append((name, field))
        elif kind == b"list" and self.redis.lpos(name, self.template) is not None:
            self.members.append((name, kind, self.template))

    def clone(self, copies: int) -> None:
        assert self.template is not None
        old = self.template
        for start in range(0, copies, BATCH):
            pipe = self.redis.pipeline(transaction=False)
            for _ in range(min(BATCH, copies - start)):
                self._clone_one(pipe, old, _fresh(old))
            pipe.execute()
        self.finished += copies

    def _clone_one(self, pipe: Any, old: bytes, new: bytes) -> None:
        for name, kind, value, pttl in self.keys:
            target = name.replace(old, new)
            if kind == b"string":
                pipe.set(target, value.replace(old, new), px=pttl or None)
            elif kind == b"hash":
                pipe.hset(target, mapping={k.replace(old, new): v.replace(old, new)
                                           for k, v in value.items()})
                if pttl:
                    pipe.pexpire(target, pttl)
            else:
                pipe.restore(target, pttl, value)
        for name, kind, entry in self.members:
            if kind == b"zset":
                pipe.zadd(name, {entry[0].replace(old, new): entry[1]})
            elif kind == b"set":
                pipe.sadd(name, entry.replace(old, new))
            elif kind == b"hash":
                pipe.hset(name, entry[0].replace(old, new), entry[1].replace(old, new))
            else:
                pipe.rpush(name, new)
        for name, field in self.counters:
            pipe.hincrby(name, field, 1)


class SQLiteCloner:
    """Copies a finished row of a SQLite job table (the table with id and status)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.table = ""
        self.columns: list[str] = []
        self.template: str | None = None
        self.finished = 0

    def discover(self) -> bool:
        for (table,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            info = list(self.conn.execute(f'PRAGMA table_info("{table}")'))
            names = [row[1] for row in info]
            if "id" in names and "status" in names:
                self.table = table
                # An INTEGER PRIMARY KEY is the rowid: leave it to SQLite.
                self.columns = [r[1] for r in info if not (r[5] and r[2].upper() == "INTEGER")]
        if not self.table:
            return False
        row = self.conn.execute(f'SELECT id FROM "{self.table}" WHERE status = ? LIMIT 1',
                                ("succeeded",)).fetchone()
        self.template = None if row is None else row[0]
        self.finished = self.conn.execute(
            f'SELECT count(*) FROM "{self.table}" WHERE status = ?', ("succeeded",)).fetchone()[0]
        return self.template is not None

    def clone(self, copies: int) -> None:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        exprs = ", ".join("lower(hex(randomblob(16)))" if c == "id" else f't."{c}"'
                          for c in self.columns)
        for start in range(0, copies, 100_000):
            count = min(100_000, copies - start)
            self.conn.execute(
                f'INSERT INTO "{self.table}" ({cols}) '
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
                f'SELECT {exprs} FROM s, "{self.table}" t WHERE t.id = ?',
                (count, self.template))
        self.finished += copies


class PostgresCloner:
    """Copies a finished row of a PostgreSQL job table in ``schema``."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.schema = schema
        self.table = ""
        self.exprs: dict[str, str] = {}
        self.template: Any = None
        self.finished = 0

    def discover(self) -> bool:
        rows = self.conn.execute(
            "SELECT table_name, column_name, data_type, column_default, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position", (self.schema,)).fetchall()
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            tables.setdefault(row[0], []).append(row)
        for table, cols in tables.items():
            names = [c[1] for c in cols]
            if "id" in names and "status" in names:
                self.table = table
                self.exprs = {c[1]: self._expr(c) for c in cols
                              if not (str(c[3] or "").startswith("nextval") or c[4] == "YES")}
                if "jobs" in table:
                    break
        if not self.table:
            return False
        qualified = f'"{self.schema}"."{self.table}"'
        row = self.conn.execute(f"SELECT id FROM {qualified} WHERE status = 'succeeded' LIMIT 1"
                                ).fetchone()
        self.template = None if row is None else row[0]
        self.finished = self.conn.execute(
            f"SELECT count(*) FROM {qualified} WHERE status = 'succeeded'").fetchone()[0]
        return self.template is not None

    @staticmethod
    def _expr(col: tuple[Any, ...]) -> str:
        name, kind = col[1], col[2]
        if name == "id" and kind == "uuid":
            return "gen_random_uuid()"
        if name == "id":
            return "md5(random()::text || g::text)"
        return f't."{name}"'

    def clone(self, copies: int) -> None:
        qualified = f'"{self.schema}"."{self.table}"'
        cols = ", ".join(f'"{c}"' for c in self.exprs)
        exprs = ", ".join(self.exprs.values())
        for start in range(0, copies, 100_000):
            count = min(100_000, copies - start)
            self.conn.execute(
                f"INSERT INTO {qualified} ({cols}) SELECT {exprs} "
                f"FROM {qualified} t, generate_series(1, %s) g WHERE t.id = %s",
                (count, self.template))
        self.conn.execute(f"ANALYZE {qualified}")  # as autovacuum would, soon after
        self.finished += copies
