"""Backoff bounds and the retry decision."""

from __future__ import annotations

import random

import pytest

from jobq import Backoff, ConfigError, Retry
from jobq.retry import RetryPolicy


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 10, 12])
def test_full_jitter_stays_within_zero_and_the_capped_exponential(n: int) -> None:
    backoff = Backoff(base=0.5, cap=200.0, factor=3.0)
    top = min(200.0, 0.5 * 3.0 ** (n - 1))
    rng = random.Random(n)
    delays = [backoff.delay(n, rng) for _ in range(500)]
    assert all(0.0 <= d <= top for d in delays)
    # Full jitter spreads over the whole range, not a band near the top.
    assert min(delays) < top * 0.1 and max(delays) > top * 0.9


def test_ceiling_doubles_from_base_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=300.0)
    assert [backoff.ceiling(n) for n in range(1, 12)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300
    ]


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    backoff = Backoff(base=2.0, cap=10.0, jitter=False)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]


@pytest.mark.parametrize("n", [64, 65, 1_000, 10**6, 10**18])
def test_huge_retry_numbers_respect_the_cap_without_overflow(n: int) -> None:
    assert Backoff(base=1.0, cap=300.0).ceiling(n) == 300.0
    assert Backoff(base=1.0, cap=30.0, factor=1e10).ceiling(n) == 30.0
    assert 0.0 <= Backoff(cap=7.0).delay(n) <= 7.0


def test_huge_base_and_factor_do_not_overflow() -> None:
    assert Backoff(base=1e300, cap=1e308, factor=1e10).ceiling(40) == 1e308
    assert Backoff(base=1.0, cap=1e308, factor=1e300).ceiling(3) == 1e308


def test_factor_one_is_constant_and_zero_base_is_immediate() -> None:
    assert Backoff(base=5.0, factor=1.0).ceiling(10**9) == 5.0
    assert Backoff(base=0.0).delay(7) == 0.0
    assert Backoff(cap=0.0).delay(7) == 0.0


def test_retry_number_below_one_counts_as_the_first() -> None:
    assert Backoff(base=3.0).ceiling(0) == Backoff(base=3.0).ceiling(1) == 3.0


@pytest.mark.parametrize(
    "kwargs",
    [{"base": -1}, {"cap": -0.5}, {"factor": 0.5}, {"base": float("nan")},
     {"cap": float("inf")}, {"base": "1"}, {"factor": True}],
)
def test_bad_backoff_is_refused(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ConfigError, match=f"Backoff {name}"):
        Backoff(**kwargs)  # type: ignore[arg-type]


# -- RetryPolicy ------------------------------------------------------------------------------


def test_retries_n_means_n_plus_one_attempts() -> None:
    policy = RetryPolicy(retries=2, backoff=Backoff(base=1, cap=1, jitter=False))
    max_attempts = policy.retries + 1
    exc = ValueError("x")
    assert policy.next_delay(exc, attempts=1, max_attempts=max_attempts) == 1.0
    assert policy.next_delay(exc, attempts=2, max_attempts=max_attempts) == 1.0
    assert policy.next_delay(exc, attempts=3, max_attempts=max_attempts) is None


def test_no_retries_means_the_first_failure_is_final() -> None:
    assert RetryPolicy().next_delay(ValueError(), attempts=1, max_attempts=1) is None


def test_the_delay_follows_the_backoff_of_the_failed_attempt() -> None:
    policy = RetryPolicy(retries=9, backoff=Backoff(base=1, cap=100, jitter=False))
    assert [policy.next_delay(OSError(), a, 10) for a in (1, 2, 3, 4)] == [1, 2, 4, 8]


def test_retry_on_limits_what_is_retried() -> None:
    policy = RetryPolicy(retries=3, retry_on=(ConnectionError, TimeoutError))
    assert policy.next_delay(ConnectionRefusedError(), 1, 4) is not None  # a subclass
    assert policy.next_delay(TimeoutError(), 1, 4) is not None
    assert policy.next_delay(ValueError(), 1, 4) is None


def test_dont_retry_on_wins_over_retry_on() -> None:
    policy = RetryPolicy(retries=3, retry_on=(OSError,), dont_retry_on=(PermissionError,))
    assert policy.next_delay(OSError(), 1, 4) is not None
    assert policy.next_delay(PermissionError(), 1, 4) is None


def test_base_exceptions_are_not_retried_by_default() -> None:
    policy = RetryPolicy(retries=3)
    assert policy.next_delay(KeyboardInterrupt(), 1, 4) is None
    assert policy.next_delay(RuntimeError(), 1, 4) is not None


def test_retry_raised_by_the_task_sets_the_delay() -> None:
    policy = RetryPolicy(retries=2, backoff=Backoff(base=100, cap=100, jitter=False),
                         retry_on=(KeyError,))
    assert policy.next_delay(Retry(delay=2.5), 1, 3) == 2.5
    assert policy.next_delay(Retry(delay=0), 1, 3) == 0
    assert policy.next_delay(Retry(), 1, 3) == 100  # no delay: the backoff decides
    assert policy.next_delay(Retry(delay=2.5), 3, 3) is None  # attempts still count


def test_retry_is_retried_even_when_retry_on_does_not_name_it() -> None:
    policy = RetryPolicy(retries=1, retry_on=(KeyError,), dont_retry_on=(Exception,))
    assert policy.next_delay(Retry(delay=1), 1, 2) == 1


@pytest.mark.parametrize("delay", [-1, float("nan"), float("inf"), "soon"])
def test_retry_refuses_a_bad_delay(delay: object) -> None:
    with pytest.raises(ConfigError, match="delay"):
        Retry(delay=delay)  # type: ignore[arg-type]


def test_retry_message() -> None:
    assert str(Retry(delay=5)) == "retry requested in 5s"
    assert str(Retry(reason="rate limited")) == "rate limited"


def test_negative_retries_refused() -> None:
    with pytest.raises(ConfigError, match="retries"):
        RetryPolicy(retries=-1)
