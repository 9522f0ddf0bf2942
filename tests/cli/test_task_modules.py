"""Tasks in several modules: ``App(include=[...])`` is how a worker and the CLI find them."""

from __future__ import annotations

import json
import sys

import pytest

import jobq
from tests.cli.conftest import Jobq


def test_a_task_in_an_included_module_is_enqueued_and_run(run: Jobq) -> None:
    sys.modules.pop("tests.cli.split_tasks", None)  # as in a fresh worker process
    enqueued = run("--app", "tests.cli.split_app:app", "--url", run.url, "enqueue",
                   "tests.cli.split_tasks.report", "[7]")
    assert enqueued.exit_code == 0, enqueued.output
    job_id = enqueued.stdout.strip()
    worked = run("--app", "tests.cli.split_app:app", "--url", run.url, "worker", "--burst")
    assert worked.exit_code == 0, worked.output
    shown = json.loads(run.on_store("show", job_id, "--json").stdout)
    assert shown["status"] == "succeeded" and shown["result"] == "report 7"


def test_an_unimportable_include_names_the_module(tmp_path: object) -> None:
    app = jobq.App("sqlite:///unused.db", include=["tests.cli.no_such_tasks"])
    with pytest.raises(jobq.JobqError, match=r"include='tests.cli.no_such_tasks': cannot "
                                             r"import it \(No module named"):
        app.import_tasks()


@pytest.mark.parametrize("include, expected", [
    ("myapp.reports", ("myapp.reports",)),
    (["a", "b.c"], ("a", "b.c")),
    ((), ()),
])
def test_include_takes_one_name_or_several(include: object, expected: tuple[str, ...]) -> None:
    assert jobq.App("sqlite:///unused.db", include=include).settings.include == expected


@pytest.mark.parametrize("include", [[""], [3], 5])
def test_include_must_be_module_names(include: object) -> None:
    with pytest.raises(jobq.ConfigError, match="include must be module names"):
        jobq.App("sqlite:///unused.db", include=include)


def test_an_unknown_task_hints_at_include() -> None:
    app = jobq.App("sqlite:///unused.db")
    with pytest.raises(jobq.UnknownTask, match="found once the App names it in include="):
        app.get_task("reports.build")
