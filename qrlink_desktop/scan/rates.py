"""Frame rates and decode times over a short sliding window, with `now` passed in."""

from __future__ import annotations

import statistics
from collections import deque


class RateMeter:
    """Events per second over the last `window_seconds` (frames per second, for a camera)."""

    def __init__(self, window_seconds: float = 2.0) -> None:
        if window_seconds <= 0:
            raise ValueError("the window must be positive")
        self.window_seconds = window_seconds
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._prune(now)

    def rate(self, now: float) -> float:
        """0.0 until two events fall in the window."""
        self._prune(now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        # Count intervals, not events: n frames span n - 1 frame times.
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()

    def _prune(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._times and self._times[0] < horizon:
            self._times.popleft()


class DurationMeter:
    """Median and worst of the last `size` durations (milliseconds of decoding)."""

    def __init__(self, size: int = 30) -> None:
        if size < 1:
            raise ValueError("keep at least one duration")
        self._durations: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._durations.append(seconds)

    @property
    def median_ms(self) -> float:
        return 1000.0 * statistics.median(self._durations) if self._durations else 0.0

    @property
    def max_ms(self) -> float:
        return 1000.0 * max(self._durations) if self._durations else 0.0

    def reset(self) -> None:
        self._durations.clear()
