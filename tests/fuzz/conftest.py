"""Shared pieces of the fuzz suite: the captured payloads used as seeds, and the example budgets.

The normal suite runs a moderate number of examples per property (the whole folder well under a minute);
`--runslow` runs the `slow` variants with many more.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

from tests.fixtures import load_json

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_IO = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_IO = settings(max_examples=600, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def captures(*names: str) -> list[Any]:
    """Captured payloads (parsed JSON) by their names under tests/fixtures/; a missing one raises, so a
    property never quietly runs on fewer seeds than it names."""
    return [load_json(name) for name in names]
