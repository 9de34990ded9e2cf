"""The one backoff every retry loop in confpy uses: exponential, capped, with additive jitter.

Watch resumes, lease refreshes, `confpy wait`, backend start-up and failed resources all wait
`Backoff.delay(attempt)` before their next try, so the formula (and its cap) lives in one place.
The jitter spreads the retries of many resources, or many confpy instances, after one outage.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]

# 2**60 times any first delay is past every cap: larger exponents only risk float overflow.
_MAX_EXPONENT = 60


@dataclass(frozen=True)
class Backoff:
    """`first` seconds before the first retry, doubling per attempt up to `cap`, plus up to `jitter`."""

    first: float
    cap: float
    jitter: float = 0.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry); never above `cap`."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        grown: float = self.first * 2.0**exponent
        return min(self.cap, grown + random.uniform(0.0, self.jitter))
