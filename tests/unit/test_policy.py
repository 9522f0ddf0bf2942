"""What every store decides alike (jobq/backends/policy.py), checked without a store."""

from __future__ import annotations

from jobq import Status
from jobq.backends.base import ReapedJob
from jobq.backends.policy import fold_stats, in_reap_order, purge_in_batches, schema_refusal


def test_a_schema_is_refused_with_what_to_do_next() -> None:
    assert schema_refusal("the store", 4, 4, "run `jobq migrate`") is None
    newer = str(schema_refusal("the store", 5, 4, "run `jobq migrate`"))
    assert "version 5, newer than this jobq knows (4)" in newer and "upgrade jobq" in newer
    older = str(schema_refusal("the store", 3, 4, "run `jobq migrate`"))
    assert older == "the store is at jobq schema version 3, this jobq needs 4; run `jobq migrate`"


def test_stats_fold_by_queue_then_status_without_empty_counts() -> None:
    rows = [("default", "pending", 2), ("mail", "failed", 1), ("default", "succeeded", 0),
            ("default", "running", 1)]
    assert fold_stats(rows) == {"default": {"pending": 2, "running": 1},
                                "mail": {"failed": 1}}


def test_purge_goes_batch_by_batch_until_the_store_says_it_is_done() -> None:
    batches: list[list[str]] = []

    def delete_batch(statuses: list[str]) -> tuple[int, bool]:
        batches.append(statuses)
        return 3, len(batches) < 3

    assert purge_in_batches([Status.SUCCEEDED, "failed", Status.SUCCEEDED], delete_batch) == 9
    assert batches == [["failed", "succeeded"]] * 3
    assert purge_in_batches([], delete_batch) == 0 and len(batches) == 3


def test_reaped_jobs_come_cancelled_then_pending_then_failed_in_expiry_order() -> None:
    reaped = [ReapedJob(str(i), "t", status, None, 1) for i, status in enumerate(
        [Status.FAILED, Status.PENDING, Status.CANCELLED, Status.PENDING])]
    assert [r.id for r in in_reap_order(reaped)] == ["2", "1", "3", "0"]
