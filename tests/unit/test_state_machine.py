"""The state machine: every pair of states, the outcomes, and the SQL that must obey it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from jobq.backends import sqlfiles
from jobq.backends.base import Outcome
from jobq.errors import IllegalTransition
from jobq.job import FINISHED, TRANSITIONS, WAITING, Status, check_transition, sources_of

S = Status

# DESIGN §2, written out independently of job.py so a change to either is noticed.
LEGAL = {
    (S.BLOCKED, S.PENDING), (S.BLOCKED, S.CANCELLED), (S.BLOCKED, S.FAILED),
    # Dependencies met before the job's own run_at (§5).
    (S.BLOCKED, S.SCHEDULED),
    (S.SCHEDULED, S.PENDING), (S.SCHEDULED, S.CANCELLED),
    (S.PENDING, S.RUNNING), (S.PENDING, S.CANCELLED),
    # A claim holds a job over its rate or concurrency limit until its next allowed time.
    (S.PENDING, S.SCHEDULED),
    (S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.SCHEDULED),
    (S.RUNNING, S.PENDING),
    # The end of a cooperative cancel: the task stopped after cancel() was asked.
    (S.RUNNING, S.CANCELLED),
    (S.FAILED, S.PENDING), (S.CANCELLED, S.PENDING),
    # A retry while dependencies are still open: back to waiting for them (§5).
    (S.FAILED, S.BLOCKED), (S.CANCELLED, S.BLOCKED),
}
PAIRS = list(itertools.product(Status, repeat=2))


def test_there_are_seven_states() -> None:
    assert [s.value for s in Status] == [
        "blocked", "scheduled", "pending", "running", "succeeded", "failed", "cancelled"
    ]
    assert set(TRANSITIONS) == set(Status)


def test_transitions_table_is_exactly_the_design() -> None:
    table = {(src, dst) for src, dsts in TRANSITIONS.items() for dst in dsts}
    assert table == LEGAL


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_check_transition_every_pair(source: Status, target: Status) -> None:
    if (source, target) in LEGAL:
        check_transition(source, target)
        check_transition(source.value, target.value)  # plain strings work too
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(source, target)
        message = str(info.value)
        assert repr(source.value) in message and repr(target.value) in message
        # The message says where the job may go instead.
        if TRANSITIONS[source]:
            assert all(s.value in message for s in TRANSITIONS[source])
        else:
            assert "final" in message


def test_check_transition_rejects_an_unknown_state() -> None:
    with pytest.raises(ValueError, match="done"):
        check_transition("running", "done")


def test_succeeded_is_final() -> None:
    assert TRANSITIONS[S.SUCCEEDED] == frozenset()


def test_finished_and_waiting_sets() -> None:
    assert frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}) == FINISHED
    assert frozenset({S.BLOCKED, S.SCHEDULED, S.PENDING}) == WAITING


@pytest.mark.parametrize("target", list(Status))
def test_sources_of(target: Status) -> None:
    assert set(sources_of(target)) == {src.value for src, dst in LEGAL if dst is target}


@pytest.mark.parametrize("status", list(Status))
def test_outcome_accepts_only_moves_out_of_running(status: Status) -> None:
    if (S.RUNNING, status) in LEGAL:
        assert Outcome("id", "token", status).status is status
    else:
        with pytest.raises(IllegalTransition):
            Outcome("id", "token", status)


def test_outcome_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError):
        Outcome("id", "token", "done")  # type: ignore[arg-type]


# -- the SQL files --------------------------------------------------------------------------


def _dialects() -> list[str]:
    folder = Path(sqlfiles.__file__).parent
    return sorted(p.name for p in folder.iterdir() if (p / "queries.sql").exists())


def _query_files() -> list[tuple[str, str]]:
    """Every named-query file of every SQL store: (dialect, file name)."""
    folder = Path(sqlfiles.__file__).parent
    return [(d, f.name) for d in _dialects() for f in sorted((folder / d).glob("*.sql"))]


@pytest.mark.parametrize(("dialect", "filename"), _query_files())
def test_query_files_declare_only_legal_transitions(dialect: str, filename: str) -> None:
    # raises on an illegal declared transition
    queries = sqlfiles.load_queries(dialect, filename)
    assert queries
    assert all(sql.strip() for sql in queries.values())


def _write_queries(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "sql" / "fake"
    folder.mkdir(parents=True)
    (folder / "queries.sql").write_text(text, encoding="utf-8")
    monkeypatch.setattr(sqlfiles, "_sql_dir", lambda dialect: tmp_path / "sql" / dialect)


def test_a_query_file_with_an_illegal_transition_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_queries(tmp_path, "-- name: bad\n-- transition: succeeded, failed -> pending\n"
                   "UPDATE t SET status = 'pending';\n", monkeypatch)
    with pytest.raises(IllegalTransition, match="'succeeded' to 'pending'"):
        sqlfiles.load_queries("fake")


def test_a_query_file_is_parsed_into_named_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_queries(tmp_path, "-- header comment\n\n-- name: one\n-- transition: failed, "
                   "cancelled -> pending\n-- a comment\nSELECT 1;\n\n-- name: two\nSELECT\n"
                   "  2;\n", monkeypatch)
    assert sqlfiles.load_queries("fake") == {"one": "SELECT 1;", "two": "SELECT\n  2;"}


@pytest.mark.parametrize("dialect", _dialects())
def test_migrations_are_numbered_from_one(dialect: str) -> None:
    migrations = sqlfiles.load_migrations(dialect)
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.sql.strip() and m.name for m in migrations)


_SET_CLAUSE = re.compile(r"\bSET\b(.*?)(?=\bWHERE\b|\bFROM\b|\bRETURNING\b|;|\Z)",
                         re.IGNORECASE | re.DOTALL)
_STATUS_ASSIGNMENT = re.compile(r"(?:^|,)\s*status\s*=\s*(.*?)(?=,\s*\w+\s*=|\Z)",
                                re.IGNORECASE | re.DOTALL)


def _status_writes(sql: str) -> tuple[set[str], bool]:
    """The statuses a query writes as literals, and whether it also writes a computed one."""
    literals: set[str] = set()
    computed = False
    for clause in _SET_CLAUSE.findall(sql):
        for expression in _STATUS_ASSIGNMENT.findall(clause):
            found = set(re.findall(r"'(\w+)'", expression))
            literals |= found
            computed = computed or not found
    return literals, computed


def test_status_writes_are_found() -> None:
    assert _status_writes("UPDATE t SET a = 1, status = 'pending' WHERE status = 'x'") == (
        {"pending"}, False)
    assert _status_writes("UPDATE t SET status = h.status FROM h") == (set(), True)
    assert _status_writes("UPDATE t SET lease = 1 WHERE status = 'running'") == (set(), False)


@pytest.mark.parametrize(("dialect", "filename"), _query_files())
def test_every_query_that_changes_a_status_declares_its_transition(dialect: str,
                                                                   filename: str) -> None:
    text = (Path(sqlfiles.__file__).parent / dialect / filename).read_text()
    blocks = re.split(r"^--\s*name:\s*", text, flags=re.MULTILINE)[1:]
    wrong = []
    for block in blocks:
        name = block.split()[0]
        sql = "\n".join(line for line in block.splitlines()[1:]
                        if not line.lstrip().startswith("--"))
        literals, computed = _status_writes(sql)
        declared = set(re.findall(r"^--\s*transition:.*->\s*(\w+)\s*$", block, re.MULTILINE))
        ok = literals <= declared and (declared == literals or computed)
        if not ok:
            wrong.append((name, sorted(literals), computed, sorted(declared)))
    assert wrong == []


@pytest.mark.parametrize("dialect", _dialects())
def test_every_migration_that_changes_a_status_declares_its_transition(dialect: str) -> None:
    # Functions a migration creates (workflow release, limit admission) move jobs too.
    for migration in sqlfiles.load_migrations(dialect):
        lines = migration.sql.splitlines()
        for line in lines:
            sqlfiles.declared_transitions(line)  # an illegal declared edge raises
        sql = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
        literals, _ = _status_writes(sql)
        declared = set(re.findall(r"^--\s*transition:.*->\s*(\w+)\s*$", migration.sql,
                                  re.MULTILINE))
        assert literals <= declared, (migration.name, sorted(literals - declared))
