"""Job ids: unique, URL-safe, and ordered by creation time (UUIDv7)."""

from __future__ import annotations

import uuid
from pathlib import Path

import jobq
from jobq.app import new_job_id, new_job_ids


def test_a_job_id_is_a_uuid7_in_32_hex_digits() -> None:
    job_id = new_job_id(1_700_000_000.123)
    assert len(job_id) == 32 and job_id == job_id.lower()
    parsed = uuid.UUID(job_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert int(job_id[:12], 16) == 1_700_000_000_123  # Unix milliseconds first


def test_ids_are_unique_and_later_ids_sort_later() -> None:
    same_moment = {new_job_id(1_700_000_000.0) for _ in range(5_000)}
    same_moment.update(new_job_ids(1_700_000_000.0, 5_000))
    assert len(same_moment) == 10_000
    assert all(uuid.UUID(i).version == 7 for i in same_moment)
    assert new_job_id(1_700_000_000.01) > max(same_moment)


def test_the_enqueued_record_is_the_stored_record(tmp_path: Path) -> None:
    app = jobq.App(f"sqlite:///{tmp_path / 'jobq.db'}")

    @app.task(retries=2, timeout=5)
    def resize(path: str, width: int) -> str:
        return path

    for job in (resize.enqueue("a.png", width=200),
                resize.with_options(delay=30, key="k").enqueue("b.png", 1),
                *app.enqueue_many([resize.call("c.png", 3), resize.call("d.png", width=4)])):
        stored = app.get_job(job.id)
        assert stored is not None
        assert job.record == stored.record
        assert job.record.meta == {} and job.record.meta is not stored.record.meta
    app.close()
