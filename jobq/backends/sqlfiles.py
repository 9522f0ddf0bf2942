"""Named SQL queries and numbered migrations, kept as files beside the backends.

A query file holds blocks that start with ``-- name: <name>``; a block may declare the
state change it makes with ``-- transition: <from>[,<from>…] -> <to>``, which is checked
against the state machine when the file is loaded, so the SQL cannot drift from it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from jobq.job import Status, check_transition

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$")
_TRANSITION = re.compile(r"^--\s*transition:\s*([\w,\s]+?)\s*->\s*(\w+)\s*$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def sqlite_statements(self) -> Iterator[str]:
        """The file's statements in order, each exactly as written, for a connection that
        runs one statement per call. SQLite's own tokenizer (``complete_statement``)
        says where each ends, so a ``;`` inside a trigger's ``BEGIN … END``, a string or
        a comment does not cut it short. (``executescript`` would run the file whole,
        but it commits first, outside the transaction that records the version.)"""
        statement = ""
        *ended, tail = self.sql.split(";")
        for piece in ended:
            statement += piece + ";"
            if sqlite3.complete_statement(statement):
                yield statement
                statement = ""
        statement += tail
        if statement.strip():
            yield statement  # comments, or an unfinished statement SQLite will refuse


def declared_transitions(line: str) -> list[tuple[Status, Status]]:
    """The edges a ``-- transition: <from>[,<from>…] -> <to>`` line declares, ``[]`` for
    any other line; an edge the state machine forbids raises ``IllegalTransition``.

    The Lua scripts of the Redis store declare theirs in the same words."""
    match = _TRANSITION.match(line)
    if match is None:
        return []
    edges = [(Status(source.strip()), Status(match.group(2)))
             for source in match.group(1).split(",")]
    for source, target in edges:
        check_transition(source, target)
    return edges


def _sql_dir(dialect: str) -> resources.abc.Traversable:
    return resources.files(f"jobq.backends.{dialect}")


def load_queries(dialect: str, filename: str = "queries.sql") -> dict[str, str]:
    """Parse a named-query file; raise if a declared transition is illegal."""
    text = _sql_dir(dialect).joinpath(filename).read_text(encoding="utf-8")
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if match := _NAME.match(line):
            current = queries.setdefault(match.group(1), [])
            continue
        if declared_transitions(line):
            continue
        if current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in queries.items()}


def load_migrations(dialect: str) -> list[Migration]:
    """Migrations named ``NNNN_description.sql``, in version order."""
    folder = _sql_dir(dialect).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest[:-4], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise RuntimeError(f"{dialect} migrations are not numbered 1..N: {found}")
    return found
