"""metrics.observe_many gives a histogram exactly what observe() one by one gives it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from shared.metrics import LATENCY_BUCKETS, observe_many

VALUES = st.lists(st.one_of(st.sampled_from([0.0, *LATENCY_BUCKETS, 10.0, 11.0]),
                            st.floats(min_value=0, max_value=20, allow_nan=False)), max_size=50)


def _histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("hop", "h", ["hop"], buckets=LATENCY_BUCKETS, registry=registry)


@given(VALUES)
def test_observe_many_equals_observing_one_by_one(values: list[float]) -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    one_by_one, together = _histogram(first), _histogram(second)
    child = one_by_one.labels(hop="a")
    for value in values:
        child.observe(value)
    observe_many(together.labels(hop="a"), values)
    assert _samples(second) == _samples(first)
    assert f'hop_count{{hop="a"}} {len(values)}.0' in _samples(second)


def _samples(registry: CollectorRegistry) -> list[str]:
    """The exposition's lines but the creation time, which differs between two histograms by nature."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]
