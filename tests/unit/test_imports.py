"""``import jobq`` loads the core only: no worker, CLI, web, store, demo or bench code."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jobq.worker", "jobq.cli", "jobq.web", "jobq.demo", "jobq.benchmark",
         "jobq.backends.sqlite", "jobq.backends.postgres", "jobq.backends.redis")


def _loaded_after(statement: str) -> list[str]:
    code = (f"{statement}; import sys, json; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('jobq'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return list(json.loads(done.stdout))


def test_import_jobq_loads_no_worker_cli_web_or_store_module() -> None:
    loaded = _loaded_after("import jobq")
    assert "jobq.app" in loaded  # the check sees what it should
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_the_public_names_are_all_there_without_loading_more() -> None:
    loaded = _loaded_after("import jobq; [getattr(jobq, n) for n in jobq.__all__]")
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_jobq_worker_names_load_on_first_use() -> None:
    loaded = _loaded_after("from jobq.worker import Worker")
    assert "jobq.worker.worker" in loaded
    assert "jobq.cli" not in loaded and "jobq.web" not in loaded
