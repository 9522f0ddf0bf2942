"""DESIGN §7: every wrong call says what was wrong and what to do, and loses nothing stored.

Each case checks the message and compares the store before and after.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import jobq
from jobq import Status
from jobq.backends.sqlite import sqlite_path
from jobq.errors import BackendError, ConfigError, JobNotFound, SerializationError, UnknownTask
from tests.backends.support import snapshot


@pytest.fixture
def app(make_app: Callable[..., jobq.App]) -> jobq.App:
    """An App on each backend, with two tasks and some jobs already stored."""
    app = make_app(lease=5.0)

    @app.task(name="send_email")
    def send_email(to: str, subject: str = "") -> None: ...

    @app.task(name="resize")
    def resize(path: str, width: int = 100) -> None: ...

    send_email.enqueue("a@b.c", subject="hi")
    send_email.with_options(key="welcome:1").enqueue("k@b.c")
    resize.with_options(delay=3600).enqueue("a.png")
    return app


@pytest.fixture(autouse=True)
def unchanged(request: pytest.FixtureRequest) -> Iterator[None]:
    """For every test on ``app``: the store holds exactly what it held before."""
    if "app" not in request.fixturenames:
        yield
        return
    app: jobq.App = request.getfixturevalue("app")
    before = snapshot(app)
    assert len(before) == 3
    yield
    assert snapshot(app) == before


# -- tasks and arguments ----------------------------------------------------------------------


def test_unknown_task_name_suggests_the_nearest(app: jobq.App) -> None:
    with pytest.raises(UnknownTask, match=r"no task named 'send_emial'; did you mean "
                                          r"'send_email'\?"):
        app.enqueue("send_emial", "x@y.z")


def test_unknown_task_name_lists_the_registered_ones(app: jobq.App) -> None:
    with pytest.raises(UnknownTask, match=r"no task named 'zzz'.*registered: resize, send_email"):
        app.enqueue("zzz")


def test_enqueue_by_name_given_a_task_object(app: jobq.App) -> None:
    with pytest.raises(UnknownTask, match=r"named by a string, got <Task resize>.*\.enqueue"):
        app.enqueue(app.tasks["resize"], "a.png")  # type: ignore[arg-type]


def test_a_positional_argument_that_is_not_json(app: jobq.App) -> None:
    with pytest.raises(SerializationError,
                       match=r"send_email: positional argument 0 is a set .*plain data"):
        app.enqueue("send_email", {"a@b.c"})


def test_a_keyword_argument_that_is_not_json(app: jobq.App) -> None:
    with pytest.raises(SerializationError, match=r"send_email: argument 'subject' is a bytes"):
        app.tasks["send_email"].enqueue("a@b.c", subject=b"hi")


def test_a_bad_argument_in_enqueue_many_stores_none_of_the_batch(app: jobq.App) -> None:
    resize = app.tasks["resize"]
    with pytest.raises(SerializationError, match=r"resize: argument 'width' is a complex"):
        app.enqueue_many([resize.call("ok.png"), resize.call("b.png", width=1j),
                          resize.call("c.png")])


def test_enqueue_many_refuses_what_is_not_a_call(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match=r"task.call\(...\).*got tuple"):
        app.enqueue_many([app.tasks["resize"].call("a.png"), ("resize", "b.png")])  # type: ignore[list-item]


def test_a_call_of_another_apps_task(app: jobq.App, sqlite_url: str) -> None:
    other = jobq.App(sqlite_url)

    @other.task(name="elsewhere")
    def elsewhere() -> None: ...

    with pytest.raises(ConfigError, match="'elsewhere' belongs to another App"):
        app.enqueue_many([elsewhere.call()])
    with pytest.raises(ConfigError, match="'elsewhere' belongs to another App"):
        app.enqueue_call(elsewhere.call())


def test_duplicate_task_name(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match=r"task named 'resize' is already registered.*name="):
        @app.task(name="resize")
        def other_resize() -> None: ...
    # Registering the same function again is harmless.
    original = app.tasks["resize"]
    assert app.task(name="resize")(original.fn).fn is original.fn


# -- enqueue options --------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [-1, -0.001, float("nan"), float("inf"), "60"])
def test_bad_delay(app: jobq.App, delay: Any) -> None:
    with pytest.raises(ConfigError, match=r"delay must be zero or a positive number of seconds"):
        app.tasks["resize"].with_options(delay=delay).enqueue("a.png")


def test_naive_at(app: jobq.App) -> None:
    naive = datetime.now() + timedelta(minutes=5)  # the mistake under test
    with pytest.raises(ConfigError, match=r"has no timezone; pass an aware datetime"):
        app.tasks["resize"].with_options(at=naive).enqueue("a.png")


def test_at_that_is_not_a_datetime(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="at= must be a datetime, got float"):
        app.tasks["resize"].with_options(at=1e9).enqueue("a.png")  # type: ignore[arg-type]


def test_delay_together_with_at(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="either delay= or at=, not both"):
        app.tasks["resize"].with_options(delay=5, at=datetime.now(UTC)).enqueue("a.png")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"queue": ""}, "queue= must be a non-empty string"),
     ({"queue": 5}, "queue= must be a non-empty string without NUL, got 5"),
     ({"queue": "a\x00b"}, "queue= must be a non-empty string without NUL, got 'a\\x00b'"),
     ({"key": "k\x00"}, "key= must be a non-empty string without NUL, got 'k\\x00'"),
     ({"priority": "high"}, "priority= must be a whole number, got 'high'"),
     ({"priority": 1.5}, "priority= must be a whole number"),
     ({"priority": True}, "priority= must be a whole number"),
     ({"priority": 2**40}, "priority= must be between"),
     ({"key": ""}, "key= must be a non-empty string"),
     ({"key": 42}, "key= must be a non-empty string without NUL, got 42")],
)
def test_bad_queue_priority_or_key(app: jobq.App, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        app.tasks["resize"].with_options(**options).enqueue("a.png")


def test_nul_in_a_task_name_or_queue_is_refused_at_definition(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="name= must be a non-empty string without NUL"):
        app.task(name="bad\x00name")(lambda: None)
    with pytest.raises(ConfigError, match="queue must be a non-empty string without NUL"):
        app.task(name="fine", queue="q\x00")(lambda: None)
    assert "bad\x00name" not in app.tasks and "fine" not in app.tasks


def test_connection_on_a_store_without_transactions(sqlite_url: str) -> None:
    # Only PostgreSQL can join the caller's transaction; SQLite (and Redis) refuse it.
    app = jobq.App(sqlite_url)
    resize = app.task(name="resize")(lambda path: path)
    with pytest.raises(ConfigError, match=r"connection=.*needs the postgres backend"):
        resize.with_options(connection=object()).enqueue("a.png")
    assert app.jobs() == []
    app.close()


# -- task options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [({"retries": -1}, "retries must be a whole number ≥ 0, got -1"),
     ({"retries": 1.5}, "retries must be a whole number"),
     ({"timeout": -1}, "timeout must be zero or a positive number of seconds"),
     ({"timeout": 0}, "timeout must be positive seconds or None"),
     ({"timeout": float("nan")}, "timeout must be zero or a positive number"),
     ({"priority": "1"}, "priority must be a whole number"),
     ({"queue": ""}, "queue must be a non-empty string"),
     ({"retry_on": ValueError("x")}, "retry_on must be exception classes"),
     ({"dont_retry_on": [str]}, "dont_retry_on must be exception classes")],
)
def test_bad_task_options(app: jobq.App, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        app.task(name="new_task", **options)(lambda: None)
    assert "new_task" not in app.tasks


def test_a_misspelt_task_option_names_the_nearest(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match=r"unknown task option 'retires'; did you mean "
                                          r"'retries'\?"):
        app.task(name="new_task", retires=3)(lambda: None)  # type: ignore[call-overload]
    assert "new_task" not in app.tasks


def test_a_misspelt_enqueue_option_names_the_nearest(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'dealy'; did you mean 'delay'\?"):
        app.tasks["resize"].with_options(queue="q").with_options(dealy=5).enqueue("a.png")


def test_task_needs_a_function(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="needs a function"):
        app.task(name="x")(42)


# -- queries and admin calls -------------------------------------------------------------------


def test_unknown_status_filter(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match=r"unknown status 'done'; use one of blocked, "
                                          r"scheduled, pending"):
        app.jobs(status="done")


@pytest.mark.parametrize(("options", "name"), [({"limit": -1}, "limit"),
                                               ({"offset": -3}, "offset"),
                                               ({"limit": "10"}, "limit")])
def test_bad_limit_or_offset(app: jobq.App, options: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name} must be a whole number ≥ 0"):
        app.jobs(**options)


def test_purge_with_an_unknown_or_live_status(app: jobq.App) -> None:
    with pytest.raises(ConfigError, match="unknown status 'old'"):
        app.purge(statuses=["old"])
    with pytest.raises(ConfigError, match=r"only finished jobs can be purged, not \['pending'\]"):
        app.purge(statuses=["succeeded", "pending"])


def test_retry_or_cancel_an_unknown_job(app: jobq.App) -> None:
    with pytest.raises(JobNotFound, match="no job with id 'missing'"):
        app.retry("missing")
    with pytest.raises(JobNotFound, match="no job with id 'missing'"):
        app.cancel("missing")


def test_retry_a_job_that_has_not_failed(app: jobq.App) -> None:
    pending = app.jobs(status="pending")[0]
    with pytest.raises(jobq.IllegalTransition,
                       match=rf"job {pending.id} is pending; only failed or cancelled jobs "
                             r"can be retried"):
        app.retry(pending.id)


def test_misspelt_keywords_name_the_nearest_option(app: jobq.App) -> None:
    task = app.get_task(app.jobs()[0].task)
    cases: list[tuple[Any, str]] = [
        (lambda: task.with_options(dealy=5), "unknown Task.with_options() option 'dealy'; "
                                             "did you mean 'delay'?"),
        (lambda: jobq.Backoff(bse=1), "unknown Backoff() option 'bse'; did you mean 'base'?"),
        (lambda: app.jobs(stauts="failed"), "did you mean 'status'?"),
        (lambda: app.purge(older_thn=5), "did you mean 'older_than'?"),
        (lambda: app.jobs()[0].result(timout=1), "did you mean 'timeout'?"),
    ]
    before = app.stats()
    for make, message in cases:
        with pytest.raises(ConfigError) as info:
            make()
        assert message in str(info.value)
    assert app.stats() == before


def test_arguments_that_do_not_fit_the_function_are_refused_at_enqueue(app: jobq.App) -> None:
    @app.task(name="greet")
    def greet(address: str, name: str, *, loud: bool = False) -> str:
        return f"hi {name}"

    before = app.stats()
    wrong = [
        ((), {}, "missing a required argument: 'address'"),
        (("a@b.c",), {}, "missing a required argument: 'name'"),
        (("a", "b", "c"), {}, "too many positional arguments"),
        (("a", "b"), {"shout": True}, "got an unexpected keyword argument 'shout'"),
    ]
    for args, kwargs, message in wrong:
        with pytest.raises(jobq.ArgumentError) as info:
            greet.enqueue(*args, **kwargs)
        assert message in str(info.value)
        assert "greet(address: str, name: str" not in str(info.value)  # annotations dropped
        assert "greet(address, name, *, loud=False)" in str(info.value)
        assert "nothing was enqueued" in str(info.value)
        with pytest.raises(jobq.ArgumentError):
            app.enqueue_many([greet.call("x@y.z", "X"), greet.call(*args, **kwargs)])
    assert isinstance(jobq.ArgumentError("x"), TypeError)  # what Python itself would raise
    assert app.stats() == before
    for args, kwargs in [(("a", "b"), {}), (("a",), {"name": "b", "loud": True})]:
        greet.signature.check("greet", args, kwargs)  # fits: no error


# -- URLs -------------------------------------------------------------------------------------


def test_wrong_url_scheme_fails_at_once_and_hides_the_password(app: jobq.App) -> None:
    with pytest.raises(ConfigError) as info:
        jobq.App("mysql://root:hunter2@db.example/jobs")
    message = str(info.value)
    assert "hunter2" not in message
    assert "mysql://root:***@db.example/jobs" in message
    assert "sqlite:///" in message and "postgresql://" in message and "redis://" in message


@pytest.mark.parametrize(
    "url", ["postgresql://u:secret@127.0.0.1:1/x", "postgresql://u@127.0.0.1:1/x?password=secret",
            "redis://:secret@127.0.0.1:1/0"]
)
def test_unreachable_server_names_the_url_and_hides_the_password(
    app: jobq.App, url: str
) -> None:
    with pytest.raises(jobq.JobqError) as info:
        unreachable = jobq.App(url)
        try:
            unreachable.get_job("x")
        finally:
            unreachable.close()
    text = f"{info.value} {info.value.__cause__ or ''} {info.value.__context__ or ''}"
    assert "secret" not in str(info.value)
    assert "secret" not in text
    assert "127.0.0.1:1" in str(info.value)


def test_sqlite_file_in_a_missing_folder(app: jobq.App, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'jobq.db'}"
    with pytest.raises(BackendError, match=r"cannot open .*folder .*does not exist"):
        jobq.App(url).get_job("x")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://host/x.db"])
def test_malformed_sqlite_url(app: jobq.App, url: str) -> None:
    with pytest.raises(ConfigError, match=r"write sqlite:///"):
        jobq.App(url).get_job("x")


def test_a_file_that_is_not_a_database(app: jobq.App, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, but somebody's notes\n" * 100)
    with pytest.raises(BackendError, match=r"junk.db.*not .*database"):
        jobq.App(f"sqlite:///{junk}").get_job("x")
    assert junk.read_bytes().startswith(b"this is not a database")


# -- a corrupt row in the store (SQLite: written behind jobq's back) ---------------------------


def test_a_corrupt_row_is_quarantined_and_the_worker_keeps_going(sqlite_url: str) -> None:
    app = jobq.App(sqlite_url, lease=5.0)
    ran: list[int] = []

    @app.task(name="work")
    def work(n: int) -> int:
        ran.append(n)
        return n

    first = work.enqueue(1)
    bad_json, bad_shape, bad_kwargs = work.enqueue(2), work.enqueue(3), work.enqueue(4)
    last = work.enqueue(5)
    path, _ = sqlite_path(sqlite_url)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE jobq_jobs SET args = '[2, oops' WHERE id = ?", (bad_json.id,))
        conn.execute("UPDATE jobq_jobs SET args = '{\"n\": 3}' WHERE id = ?", (bad_shape.id,))
        conn.execute("UPDATE jobq_jobs SET kwargs = '[4]' WHERE id = ?", (bad_kwargs.id,))
    conn.close()

    # Reading the damaged rows does not fail either.
    assert len(app.jobs()) == 5
    assert app.get_job(bad_json.id).record.args == "[2, oops"  # type: ignore[union-attr]

    app.run_worker(concurrency=1, burst=True)
    assert sorted(ran) == [1, 5]
    assert (first.result(timeout=5), last.result(timeout=5)) == (1, 5)
    for job in (bad_json, bad_shape, bad_kwargs):
        with pytest.raises(jobq.JobFailed) as info:
            job.result(timeout=5)
        assert info.value.error_type == "CorruptJob"
        assert job.id in info.value.error_message
        assert job.attempts == 1  # quarantined at once, never retried
    assert {j.id for j in app.jobs(status=Status.FAILED)} == {
        bad_json.id, bad_shape.id, bad_kwargs.id
    }
    app.close()
