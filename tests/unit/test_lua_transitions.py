"""The Redis store's Lua scripts declare their transitions and are checked when loaded."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from jobq.backends.redis.conn import LIBRARIES, load_scripts, read_scripts
from jobq.backends.redis.scriptcheck import check_script
from jobq.errors import IllegalTransition

LUA = Path(str(resources.files("jobq.backends.redis").joinpath("lua")))
HEADER = "-- demo: a script written for this test.\n-- ARGV: prefix, job id.\n"
BODY = ("local h = read(ARGV[2], {'status', 'queue', 'seq'})\n"
        "redis.call('HSET', job_key(ARGV[2]), 'status', 'cancelled')\n"
        "restatus(ARGV[2], h.queue, h.seq, 'pending', 'cancelled')\n")


def _folder_with(tmp_path: Path, script: str) -> Path:
    """A script folder holding the shipped helpers and one script of the test's own."""
    for name in LIBRARIES:
        shutil.copy(LUA / name, tmp_path / name)
    (tmp_path / "demo.lua").write_text(script, encoding="utf-8")
    return tmp_path


def test_every_shipped_script_loads() -> None:
    scripts = load_scripts()
    shipped = {p.stem for p in LUA.glob("*.lua")} - {Path(n).stem for n in LIBRARIES}
    assert set(scripts) == shipped
    # The transitions of a script that moves jobs are in its header, as in the SQL files.
    assert "-- transition: running -> succeeded" in scripts["finish"].text


def test_a_declared_script_loads(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, HEADER + "-- transition: pending -> cancelled\n" + BODY)
    assert set(read_scripts(folder)) == {"demo"}


def test_a_script_with_an_undeclared_transition_is_refused(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, HEADER + "-- transition: pending -> running\n" + BODY)
    with pytest.raises(IllegalTransition, match=r"demo.lua .*pending -> cancelled"):
        read_scripts(folder)


def test_a_script_declaring_an_illegal_edge_is_refused(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, HEADER + "-- transition: succeeded -> pending\n" + BODY)
    with pytest.raises(IllegalTransition, match="'succeeded' to 'pending'"):
        read_scripts(folder)


def test_a_status_given_through_a_variable_is_checked() -> None:
    body = ("local to = 'scheduled'\nif x then\n  to = 'failed'\nend\n"
            "redis.call('HSET', job_key(id), 'status', to)\n"
            "restatus(id, h.queue, h.seq, 'running', to)\n")
    check_script("ok.lua", "-- transition: running -> scheduled\n"
                 "-- transition: running -> failed\n" + body)
    with pytest.raises(IllegalTransition, match="running -> failed"):
        check_script("bad.lua", "-- transition: running -> scheduled\n" + body)


def test_a_misspelt_status_is_named() -> None:
    with pytest.raises(IllegalTransition, match=r"'canceled'.*'cancelled'"):
        check_script("typo.lua", "-- transition: pending -> cancelled\n"
                     "redis.call('HSET', k, 'status', 'canceled')\n")


def test_a_stale_declaration_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="never writes: failed"):
        check_script("stale.lua", "-- transition: running -> failed\n"
                     "redis.call('HSET', k, 'lease_token', '')\n")


def test_a_new_job_is_created_waiting() -> None:
    check_script("new.lua", "-- creates: pending\nredis.call('HSET', k, 'status', 'pending')\n")
    with pytest.raises(IllegalTransition, match="created running"):
        check_script("new.lua", "-- creates: running\n"
                     "redis.call('HSET', k, 'status', 'running')\n")
