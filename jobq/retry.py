"""Backoff and the decision whether a failed attempt runs again."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from jobq.config import checked_keywords
from jobq.errors import ConfigError, Retry


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter and a cap.

    The n-th retry (n = 1, 2, …) waits a uniform random time in
    ``[0, min(cap, base * factor ** (n - 1))]`` seconds ("full jitter"), which spreads
    retries of many failed jobs instead of bunching them.
    """

    base: float = 1.0
    cap: float = 300.0
    factor: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        for name in ("base", "cap", "factor"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value < 0):
                raise ConfigError(
                    f"Backoff {name} must be a finite number of seconds ≥ 0, got {value!r}"
                )
        if self.factor < 1:
            raise ConfigError(f"Backoff factor must be at least 1, got {self.factor}")

    def ceiling(self, retry_number: int) -> float:
        """The longest the given retry (1-based) may wait."""
        exponent = max(retry_number - 1, 0)
        if self.base == 0 or self.cap == 0:
            return 0.0
        # Compare in logarithms: base * factor ** exponent overflows a float for a large
        # retry number long before it could matter against the cap.
        if math.log(self.base) + exponent * math.log(self.factor) >= math.log(self.cap):
            return float(self.cap)
        return float(min(self.cap, self.base * self.factor**exponent))

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the given retry (1-based)."""
        top = self.ceiling(retry_number)
        if not self.jitter:
            return top
        return (rng or random).uniform(0.0, top)


# A misspelt Backoff(bse=1) names the nearest option instead of a bare TypeError.
Backoff.__init__ = checked_keywords(Backoff.__init__)  # type: ignore[method-assign]


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried and how long to wait."""

    retries: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    dont_retry_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigError(f"retries must be 0 or more, got {self.retries}")

    def next_delay(self, exc: BaseException, attempts: int, max_attempts: int) -> float | None:
        """Seconds until the next attempt, or None if this failure is final.

        ``attempts`` counts the attempt that just failed.
        """
        if attempts >= max_attempts:
            return None
        if isinstance(exc, Retry):
            return exc.delay if exc.delay is not None else self.backoff.delay(attempts)
        if isinstance(exc, self.dont_retry_on) or not isinstance(exc, self.retry_on):
            return None
        return self.backoff.delay(attempts)
