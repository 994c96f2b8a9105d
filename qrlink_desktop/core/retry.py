"""Retry with exponential backoff, as the specification's §10.2 sets it.

Default: 3 retries after the first try, waiting 1 s, 2 s, 4 s; no wait longer than 10 s.
The policy only computes; whoever retries owns the timer, so tests need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import facts

_DEFAULT = facts.timers()


@dataclass(frozen=True)
class RetryPolicy:
    # The defaults are resources/protocol/timers.json's `retry`, shared with the page.
    base_delay: float = _DEFAULT.retry_first_delay
    factor: float = _DEFAULT.retry_factor
    max_delay: float = _DEFAULT.retry_max_delay
    retries: int = _DEFAULT.retries

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < 0 or self.retries < 0:
            raise ValueError("retry policy needs non-negative delays, factor >= 1, retries >= 0")

    def delay(self, retry: int) -> float | None:
        """Seconds to wait before retry number `retry` (1-based); None once they are used up."""
        if retry < 1 or retry > self.retries:
            return None
        return float(min(self.max_delay, self.base_delay * self.factor ** (retry - 1)))

    def delays(self) -> list[float]:
        return [d for r in range(1, self.retries + 1) if (d := self.delay(r)) is not None]

    @property
    def attempts(self) -> int:
        """Total tries: the first one plus the retries."""
        return self.retries + 1


DEFAULT_RETRY = RetryPolicy()
