"""A worker's options are checked when it is made: each bad one is refused with a message
that names it (and, for a misspelt one, the nearest valid name)."""

from __future__ import annotations

from typing import Any

import pytest

import jobq
from jobq.worker import Hook, Worker


@pytest.fixture
def app(sqlite_url: str) -> jobq.App:
    return jobq.App(sqlite_url)


@pytest.mark.parametrize(("options", "message"), [
    ({"concurency": 2}, "unknown worker option 'concurency'; did you mean 'concurrency'?"),
    ({"kill_afer": 2}, "unknown worker option 'kill_afer'; did you mean 'kill_after'?"),
    ({"concurrency": 0}, "concurrency must be a whole number ≥ 1, got 0"),
    ({"concurrency": -3}, "concurrency must be a whole number ≥ 1, got -3"),
    ({"concurrency": True}, "concurrency must be a whole number ≥ 1, got True"),
    ({"concurrency": 2.5}, "concurrency must be a whole number ≥ 1, got 2.5"),
    ({"pool": "prefork"}, "pool must be one of thread, process, async, got 'prefork'"),
    ({"kill_after": -1}, "kill_after must be zero or more seconds, got -1"),
    ({"kill_after": float("nan")}, "kill_after must be zero or more seconds, got nan"),
    ({"grace": -0.5}, "grace must be zero or more seconds, got -0.5"),
    ({"prefetch": -1}, "prefetch must be a whole number ≥ 0, got -1"),
    ({"pool": "process", "max_tasks_per_child": 0},
     "max_tasks_per_child must be a whole number ≥ 1, got 0"),
    ({"pool": "process", "max_memory_per_child": 0},
     "max_memory_per_child must be a whole number ≥ 1, got 0"),
    ({"pool": "async", "app_ref": "myapp:app"},
     "app_ref applies to pool='process' only, not to pool='async'"),
    ({"pool": "process", "app_ref": "myapp"}, "app_ref must be 'module:attr', got 'myapp'"),
    ({"max_tasks_per_child": 10},
     "max_tasks_per_child applies to pool='process' only, not to pool='thread'"),
    ({"queues": ["mail", ""]}, "queues must be non-empty names, got ['mail', '']"),
    ({"hooks": [print]}, "hooks must be jobq.worker.Hook objects, got <built-in function print>"),
])
def test_a_bad_worker_option_is_refused_naming_it(
    app: jobq.App, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(jobq.ConfigError) as raised:
        Worker(app, **options)
    assert str(raised.value) == message
    with pytest.raises(jobq.ConfigError) as raised:
        app.run_worker(**options)
    assert str(raised.value) == message


def test_good_options_are_kept_as_given(app: jobq.App) -> None:
    hook = Hook()
    worker = Worker(app, concurrency=3, queues="mail, sms", grace=0, kill_after=0,
                    hooks=[hook])
    assert worker.options.concurrency == 3
    assert worker.queues == ["mail", "sms"]
    assert worker.options.hooks == (hook,)
    assert worker.options.kill_after == 0
    assert Worker(app).queues == ["default"]
