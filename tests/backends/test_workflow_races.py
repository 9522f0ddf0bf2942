"""Contract: a dependent enqueued while its dependency is finishing is never left blocked
(rq#739), whichever of the two writes the store takes first."""

from __future__ import annotations

import threading
from collections.abc import Callable

import jobq
from jobq import DependencyFailed, Status
from tests.backends.support import claim_one, fail, finish

ROUNDS = 1_000


def test_a_dependent_enqueued_while_its_dependency_finishes_is_never_left_blocked(
    make_app: Callable[..., jobq.App],
) -> None:
    finisher, enqueuer = make_app(lease=60.0), make_app(lease=60.0)
    for app in (finisher, enqueuer):
        app.task(name="step")(lambda n: n)
    step = enqueuer.tasks["step"]
    parents = enqueuer.enqueue_many([step.call(i) for i in range(ROUNDS)])
    # Dependents go to a queue of their own: the finisher claims parents only.
    after = step.with_options(queue="after")
    barrier = threading.Barrier(2, timeout=120)
    errors: list[BaseException] = []

    def finish_parents() -> None:
        try:
            for i in range(ROUNDS):
                claimed = claim_one(finisher)
                assert claimed.id == parents[i].id
                barrier.wait()  # the enqueue below and this finish race each other
                if i % 4 == 3:
                    assert fail(finisher, claimed, f"parent {i}")
                else:
                    assert finish(finisher, claimed, Status.SUCCEEDED, result=str(i))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    thread = threading.Thread(target=finish_parents)
    thread.start()
    dependents: dict[int, jobq.Job] = {}
    refused: set[int] = set()
    for i in range(ROUNDS):
        barrier.wait()
        try:
            dependents[i] = after.with_options(depends_on=[parents[i]]).enqueue(i)
        except DependencyFailed:
            refused.add(i)
    thread.join(300)
    assert not errors, errors[0]

    assert enqueuer.jobs(status="blocked") == []
    assert refused <= {i for i in range(ROUNDS) if i % 4 == 3}
    for i, job in dependents.items():
        record = job.refresh().record
        if i % 4 == 3:
            assert record.status is Status.FAILED, (i, record.status)
            assert record.error is not None and record.error.type == "DependencyFailed"
            assert parents[i].id in record.error.message
        else:
            assert record.status is Status.PENDING, (i, record.status)
