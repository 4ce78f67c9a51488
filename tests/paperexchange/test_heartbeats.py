"""The dead-man switch: armed by the first heartbeat; 10 s of silence cancels every order of that key."""

from __future__ import annotations

import time

import pytest

from paperexchange.core.clock import ManualClock
from paperexchange.core.heartbeats import HeartbeatMismatch, Heartbeats
from tests.helpers import eventually


def test_heartbeat_ids_chain_and_a_stale_one_is_refused_with_the_expected_id():
    beats = Heartbeats(ManualClock(), timeout_secs=10)
    first = beats.beat("key", "")
    second = beats.beat("key", first)
    with pytest.raises(HeartbeatMismatch) as raised:
        beats.beat("key", first)
    assert raised.value.expected_id == second and raised.value.message == "Invalid Heartbeat ID"


def test_switch_fires_at_the_timeout_on_an_injected_clock():
    clock = ManualClock()
    beats = Heartbeats(clock, timeout_secs=10)
    beat_id = beats.beat("key", "")
    clock.advance(9.9)
    assert beats.expired() == []
    beats.beat("key", beat_id)  # a heartbeat resets the countdown
    clock.advance(9.9)
    assert beats.expired() == []
    clock.advance(0.2)
    assert beats.expired() == ["key"]
    assert beats.beat("key", "")  # after firing it starts again from ""


def test_http_mismatch_body_carries_the_expected_id(trader):
    first = trader.post("/v1/heartbeats", {"heartbeat_id": ""}).json()["heartbeat_id"]
    trader.post("/v1/heartbeats", {"heartbeat_id": first})
    response = trader.post("/v1/heartbeats", {"heartbeat_id": first})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Invalid Heartbeat ID" and body["heartbeat_id"] not in ("", first)


@pytest.mark.timeout(30)
def test_dead_man_switch_cancels_ten_seconds_after_the_last_heartbeat_and_not_before(trader, admin, market):
    """Real default timing: still live 8 s after the last heartbeat, cancelled shortly after 10 s."""
    other = admin.create_market()
    ids = [trader.post("/order", trader.signed_order(m["token_ids"][0], "BUY", 0.2, 10)).json()["orderID"]
           for m in (market, other)]
    beat = trader.post("/v1/heartbeats", {"heartbeat_id": ""}).json()["heartbeat_id"]
    time.sleep(1.0)
    trader.post("/v1/heartbeats", {"heartbeat_id": beat})
    last_beat = time.monotonic()
    status = lambda order_id: trader.get(f"/data/order/{order_id}").json()["status"]
    time.sleep(8.0 - (time.monotonic() - last_beat))
    assert [status(order_id) for order_id in ids] == ["LIVE", "LIVE"]
    eventually(lambda: all(status(order_id) == "CANCELED" for order_id in ids), timeout=4, interval=0.05)
    fired_after = time.monotonic() - last_beat
    assert 9.9 <= fired_after <= 11.0
