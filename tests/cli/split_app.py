"""An application whose tasks live in another module, named by ``include=``:
``--app tests.cli.split_app:app``. Its URL is a placeholder; tests pass ``--url``."""

from __future__ import annotations

import jobq

app = jobq.App("sqlite:///cli-split-placeholder.db", include=["tests.cli.split_tasks"])


@app.task
def here(x: int) -> int:
    return x
