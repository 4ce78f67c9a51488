"""User-channel frames: parsed by the SDK as the executor's stream does, translated by venue.py, reported by
tracking.Reporter on a real store and a real bus. No event may raise out of the Reporter (an exception
ends the user stream and drops the subscription); every event is either reported on `fills` or
dead-lettered to `fills:dead` with a reason; a valid event after garbage is still reported."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from polymarket.models.clob.user_events import parse_user_events

from services.executor.orders import OrderStore
from services.executor.tracking import Reporter
from services.executor.venue import _venue_order, _venue_trade
from shared.logging import EventLog
from shared.messages import Fill, OrderUpdate
from shared.redis_conn import connect
from shared.streams import FILLS, Bus, dead_letter_stream
from tests.fuzz.conftest import FAST_IO, SLOW_IO, captures
from tests.fuzz.strategies import JSON, mutated

ORDER = {"asset_id": "111", "associate_trades": None, "created_at": "1725868859", "event_type": "order",
         "expiration": "0", "id": "0x" + "ab" * 32, "maker_address": "0xA", "market": "0x" + "cd" * 32,
         "order_owner": "key", "order_type": "GTC", "original_size": "10", "outcome": "Yes", "owner": "key",
         "price": "0.57", "side": "SELL", "size_matched": "0", "status": "LIVE", "timestamp": "1725868859000",
         "type": "PLACEMENT"}
TRADE = {"asset_id": "111", "event_type": "trade", "fee_rate_bps": "0", "id": "t-1", "last_update": "1725868885",
         "maker_orders": [{"asset_id": "222", "fee_rate_bps": "0", "matched_amount": "10", "order_id": "0x" + "ef" * 32,
                           "outcome": "No", "owner": "key", "price": "0.43", "side": "BUY"}],
         "market": "0x" + "cd" * 32, "match_time": "1725868859", "outcome": "Yes", "owner": "key", "price": "0.57",
         "side": "BUY", "size": "10", "status": "MATCHED", "taker_order_id": "0x" + "12" * 32,
         "timestamp": "1725868859000", "trader_side": "TAKER", "type": "TRADE"}
SEEDS = [ORDER, TRADE] + captures(
    "polymarket-captures/python-ws/order_placement.json",
    "polymarket-captures/python-ws/order_cancel.json",
    "polymarket-captures/python-ws/user_trade1.json",
    "polymarket-captures/python-ws/user_trade2.json",
    "polymarket-captures/rust-test-data/ws_user_order_fok_killed.json",
    "polymarket-captures/rust-test-data/ws_user_order_update.json",
    "polymarket-captures/rust-test-data/ws_user_trade.json",
)
FRAMES = st.one_of(st.sampled_from(SEEDS).flatmap(mutated), JSON, st.lists(st.sampled_from(SEEDS).flatmap(mutated),
                                                                           max_size=3))
API_KEY = "key"


def _sdk_parse(raw: object) -> list:
    """Events of a frame as the SDK's user stream hands them on: it drops what it cannot parse, and a frame
    whose parsing raises anything else (an OverflowError for a huge timestamp) is logged and dropped whole by
    its socket reader (polymarket/_internal/ws/connection.py). Either way the executor's timed REST gap fill
    finds what was lost; here only what reaches the Reporter is checked."""
    try:
        return parse_user_events(copy.deepcopy(raw))[0]
    except Exception:  # noqa: BLE001 - as the SDK's reader does
        return []


async def _run(redis_url: str, prefix: str, db: Path, frames: list) -> None:
    client = connect(redis_url)
    bus = Bus(client, prefix=prefix, producer="fuzz")
    store = OrderStore(db)
    reporter = Reporter(store, bus, EventLog(db.parent / "logs", "executor"), API_KEY)
    try:
        handled = 0
        for raw in frames:
            events = _sdk_parse(raw)
            for event in events:
                if event.type == "order":
                    await reporter.on_order(_venue_order(event.payload, kind=event.payload.order_event_type))
                else:
                    await reporter.on_trade(_venue_trade(event.payload))
                handled += 1
        dead = await client.xrange(bus.key(dead_letter_stream(FILLS)))
        assert all(fields[b"error"] and fields[b"raw"] for _, fields in dead)
        assert len(dead) == reporter.malformed <= handled
        # After whatever came before, a valid order event is still reported.
        fresh = dict(ORDER, id="0x" + uuid.uuid4().hex * 2)
        (event,), _ = parse_user_events(fresh)
        await reporter.on_order(_venue_order(event.payload, kind=event.payload.order_event_type))
        history = await bus.history(FILLS, count=100_000)
        assert all(message is not None for _, message in history)
        last = history[-1][1]
        assert isinstance(last, OrderUpdate) and last.order_id == fresh["id"]
        assert all(isinstance(m, OrderUpdate | Fill) for _, m in history)
    finally:
        store.close()
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def check(redis_url: str, tmp: Path, frames: list) -> None:
    db = tmp / uuid.uuid4().hex / "executor.sqlite"
    asyncio.run(_run(redis_url, f"test:fuzz:{uuid.uuid4().hex[:10]}:", db, frames))


@FAST_IO
@given(frames=st.lists(FRAMES, min_size=1, max_size=4))
@example(frames=[dict(ORDER, price="1.5")])
@example(frames=[dict(ORDER, original_size="-3")])
@example(frames=[dict(ORDER, price="NaN")])
@example(frames=[dict(TRADE, price="7")])
@example(frames=[dict(TRADE, size="-1e30")])
@example(frames=[dict(TRADE, timestamp="9" * 400), TRADE])  # the SDK raises OverflowError: the frame is dropped
def test_user_events_are_reported_or_dead_lettered(redis_url, tmp_path_factory, frames):
    check(redis_url, tmp_path_factory.mktemp("store"), frames)


@pytest.mark.slow
@SLOW_IO
@given(frames=st.lists(FRAMES, min_size=1, max_size=8))
def test_user_events_are_reported_or_dead_lettered_long(redis_url, tmp_path_factory, frames):
    check(redis_url, tmp_path_factory.mktemp("store"), frames)
