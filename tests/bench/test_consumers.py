"""bench/consumers.py runs the real handlers end to end on a small load (no timing is asserted)."""

from __future__ import annotations

from bench.consumers import ROWS, goals, measure


def test_every_handler_is_measured_beside_its_decode():
    us = measure(deltas_count=300, markets=5, resting=20, repeat=1)
    for key, _ in ROWS:
        assert us[key] > 0 and us[f"{key}_decode"] > 0
    assert [g.name.split()[0] for g in goals(us)] == ["strategy", "risk", "risk"]
