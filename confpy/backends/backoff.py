"""The one backoff every retry loop in confpy uses: exponential, capped, with additive jitter.

Watch resumes, lease refreshes, `confpy wait`, backend start-up, failed resources and etcd's
requests all wait `Backoff.delay(attempt)` before their next try, so the formula (and its cap)
lives in one place. Loops that wait on something else meanwhile (a queue, a condition) ask for
the delay; a plain call that is retried on its own thread uses `Backoff.retry`. The jitter
spreads the retries of many resources, or many confpy instances, after one outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

__all__ = ["Backoff"]

T = TypeVar("T")

# 2**60 times any first delay is past every cap: larger exponents only risk float overflow.
_MAX_EXPONENT = 60


class Backoff(NamedTuple):
    """`first` seconds before the first retry, doubling per attempt up to `cap`, plus up to `jitter`."""

    first: float
    cap: float
    jitter: float = 0.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry); never above `cap`."""
        from random import uniform  # at the first retry: its import (~0.3 ms) is not a start-up's

        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        grown: float = self.first * 2.0**exponent
        return min(self.cap, grown + uniform(0.0, self.jitter))

    def retry(
        self,
        call: Callable[[], T],
        *,
        transient: type[Exception],
        within: float,
        attempts: int = 1,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> T:
        """`call()`'s result, calling it again after each `transient` error, until `within` seconds
        have passed since the first call and at least `attempts` calls were made; then that error
        propagates, as any other error does at once. No wait runs past `within`."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except transient:
                spent = time.monotonic() - started
                if spent >= within and attempt >= attempts:
                    raise
                sleep(max(0.0, min(self.delay(attempt), within - spent)))
