"""Recent latencies in a small window, summarised for a health key (the dashboard reads them there).

Prometheus keeps the full histogram; a terminal screen wants a few numbers it can read from Redis: the last
observation and percentiles of the last `size` ones.
"""

from __future__ import annotations

import math
from collections import deque


class RecentLatencies:
    """The last `size` observations, in seconds."""

    def __init__(self, size: int = 500) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def observe(self, secs: float) -> None:
        self._values.append(secs)

    def summary(self) -> dict[str, float | int] | None:
        """{"n", "last_ms", "p50_ms", "p90_ms", "max_ms"} (nearest-rank percentiles); None before any."""
        if not self._values:
            return None
        ordered = sorted(self._values)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return {
            "n": len(ordered),
            "last_ms": _ms(self._values[-1]),
            "p50_ms": _ms(rank(0.5)),
            "p90_ms": _ms(rank(0.9)),
            "max_ms": _ms(ordered[-1]),
        }


def _ms(secs: float) -> float:
    return round(secs * 1000, 1)
