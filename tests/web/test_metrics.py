"""``/metrics`` parses as Prometheus text and says what ``app.stats()`` says; the counts
behind it and /api/stats are read once per window, and a changing call refreshes them."""

from __future__ import annotations

import jobq
from jobq.job import Status
from tests.web.conftest import AUTH, client_for, failed_job, metric_families

ODD_QUEUE = 'odd "queue" \\ with\na newline'


def _series(text: str) -> dict[tuple[str, str], float]:
    families = metric_families(text)
    assert families["jobq_jobs"].type == "gauge"
    return {(s.labels["queue"], s.labels["state"]): s.value for s in families["jobq_jobs"].samples}


def test_metrics_parse_and_match_app_stats(tasks_app: jobq.App) -> None:
    tasks_app.enqueue("add", 1, 2)
    tasks_app.get_task("add").with_options(delay=3600).enqueue(1, 1)
    tasks_app.get_task("add").with_options(queue=ODD_QUEUE).enqueue(2, 2)
    failed_job(tasks_app)
    with client_for(tasks_app) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    series = _series(answer.text)
    stats = tasks_app.stats()
    assert set(stats) == {"default", "ops", ODD_QUEUE}
    for queue in stats:
        for state in Status:
            assert series.pop((queue, state.value)) == stats[queue].get(state.value, 0)
    assert series == {}
    assert stats["ops"]["failed"] == 1 and stats[ODD_QUEUE]["pending"] == 1


def test_counts_are_read_once_per_window(tasks_app: jobq.App) -> None:
    job = failed_job(tasks_app)
    with client_for(tasks_app, stats_ttl=3600) as client:
        before = client.get("/api/stats").json()
        tasks_app.enqueue("add", 1, 2)  # behind the API's back: not seen until the window ends
        assert client.get("/api/stats").json() == before
        assert ("default", "pending") not in _series(client.get("/metrics").text)
        # A changing call through the API starts a new window at once.
        assert client.post(f"/api/jobs/{job.id}/retry", headers=AUTH).status_code == 200
        after = client.get("/api/stats").json()
    assert after["queues"]["default"]["pending"] == 1
    assert after["queues"]["ops"] == {**before["queues"]["ops"], "failed": 0, "pending": 1}
