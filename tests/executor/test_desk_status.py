"""What the executor publishes for the dashboard in its health key: tick-to-order latency of the orders it posted,
and the venue's recent refusals (the event log's own error events)."""

from __future__ import annotations

import json
import time

import pytest

from services.executor.desk_status import DeskStatus, error_text
from shared.latency import RecentLatencies
from shared.logging import EventLog
from shared.streams import APPROVED_ORDERS
from tests.executor.conftest import approval
from tests.helpers import eventually


def test_recent_latencies_are_nearest_rank_percentiles_of_a_bounded_window():
    window = RecentLatencies(size=10)
    assert window.summary() is None
    for ms in range(1, 21):  # only the last 10 (11..20 ms) are kept
        window.observe(ms / 1000)
    assert window.summary() == {"n": 10, "last_ms": 20.0, "p50_ms": 15.0, "p90_ms": 19.0, "max_ms": 20.0}


def test_venue_error_events_reach_the_status_newest_last_and_others_do_not(tmp_path):
    events = EventLog(tmp_path, "executor")
    desk = DeskStatus(events)
    events.emit("order_submitted", order_hash="0x1")
    events.emit("order_rejected", client_order_id="c", code="INVALID_ORDER_MIN_SIZE", message="size 1 < 5")
    events.emit("heartbeat_failed", failures=2, error="503 Service Unavailable", action="submission stopped")
    for i in range(6):
        events.emit("post_retry", error=f"429 too many requests #{i}", wait_secs=1)
    status = desk.status()
    assert status["tick_to_order_ms"] is None
    errors = status["venue_errors"]
    assert [e["error"] for e in errors] == [f"429 too many requests #{i}" for i in range(1, 6)]  # the last five
    assert error_text({"type": "order_rejected", "code": "X", "message": "why"}) == "X: why"
    assert error_text({"type": "venue_restricted", "restriction": "post_only", "wait_secs": 5}) == (
        "trading restricted (post_only), waiting 5s")


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_the_health_key_carries_latency_and_the_venues_refusals(bus, executor, admin, market):
    executor.start()
    await executor.wait_started()
    await bus.publish(APPROVED_ORDERS, approval(market, price="0.40", size="10"))
    await bus.publish(APPROVED_ORDERS, approval(market, price="0.40", size="1"))  # below the market's minimum

    async def health() -> dict | None:
        keys = [k async for k in bus.redis.scan_iter(match=f"{bus.prefix}health:executor:*")]
        status = json.loads(await bus.redis.get(keys[0])) if keys else {}
        latency, errors = status.get("tick_to_order_ms"), status.get("venue_errors")
        return status if latency and latency["n"] >= 1 and errors else None

    status = await eventually(health, timeout=40)
    assert 0 <= status["tick_to_order_ms"]["p50_ms"] <= status["tick_to_order_ms"]["max_ms"]
    [refusal] = [e for e in status["venue_errors"] if e["type"] == "order_rejected"]
    assert refusal["error"] and abs(refusal["ts"] - time.time()) < 60


def test_a_secret_in_a_venue_error_never_reaches_the_health_key(tmp_path):
    from shared.logging import register_secret

    secret = "0c1d2e3f-desk-status-api-secret-9a8b"
    register_secret(secret)
    events = EventLog(tmp_path, "executor")
    desk = DeskStatus(events)
    events.emit("post_retry", error=f"401 Unauthorized: key {secret} rejected", wait_secs=1)
    published = json.dumps(desk.status())
    assert secret not in published and "401 Unauthorized" in published
