"""Shared pieces of the fuzz suite: the captured payloads used as seeds, and the example budgets.

The normal suite runs a moderate number of examples per property (the whole folder well under a minute);
`--runslow` runs the `slow` variants with many more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
CAPTURES = FIXTURES / "polymarket-captures"

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_IO = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_IO = settings(max_examples=600, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def capture(name: str) -> Any:
    """One captured payload (parsed JSON) by its path under polymarket-captures/, or None when absent."""
    path = CAPTURES / name
    return json.loads(path.read_bytes()) if path.is_file() else None


def captures(*names: str) -> list[Any]:
    return [value for value in (capture(name) for name in names) if value is not None]


@pytest.fixture
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures folder {FIXTURES} is absent (expected beside the repo root)")
    return FIXTURES
