"""Poison never stops the line (issue 15): domain bounds on the bus messages, a wrong type for a stream, an
oversized entry; each is dead-lettered with its reason and counted, and the entries after it go on. On real
Redis through the real Consumer."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from shared import messages as m
from shared import metrics
from shared.errors import DecodeError
from shared.message_checks import MessageError
from shared.messages import REGISTRY, BookSnapshot, Envelope, ExternalSignal, OrderIntent, PriceLevel, Side
from shared.streams import Delivery, Output
from shared.streams.base import MAX_MESSAGE_BYTES, STREAM_TYPES, accepted_types
from tests.helpers import eventually


def _snapshot(**changes) -> dict:
    good = BookSnapshot(envelope=Envelope.new("ingest"), market="m1", token_id="t1",
                        bids=(PriceLevel(price=Decimal("0.40"), size=Decimal(10)),),
                        asks=(PriceLevel(price=Decimal("0.60"), size=Decimal(10)),), tick_size=Decimal("0.01"))
    data = json.loads(m.to_json(good))
    data.update(changes)
    return data


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"tick_size": "0"}, "not one of the venue's"),
    ({"tick_size": "0.02"}, "not one of the venue's"),
    ({"bids": [{"price": "0", "size": "10"}]}, "greater than 0"),
    ({"asks": [{"price": "1", "size": "10"}]}, "less than 1"),
    ({"bids": [{"price": "0.4", "size": "1e30"}]}, "less than or equal to"),
    ({"bids": [{"price": "0.4", "size": "1"}] * (m.MAX_BOOK_LEVELS + 1)}, "at most 10000 items"),
])
def test_book_snapshot_bounds(changes, complaint):
    with pytest.raises(DecodeError, match=complaint):
        m.from_json(BookSnapshot, json.dumps(_snapshot(**changes)))


def test_order_bounds_size_price_and_the_venue_ticks():
    base = {"envelope": Envelope.new("strategy"), "token_id": "t", "side": Side.BUY, "reason": "r",
            "strategy": "s", "signal_key": "k", "market": "m"}
    OrderIntent(**base, size=Decimal(5), price=Decimal("0.5"))
    for size, price in (("1e30", "0.5"), ("0", "0.5"), ("5", "0"), ("5", "1"), ("5", "NaN")):
        with pytest.raises(MessageError):
            OrderIntent(**base, size=Decimal(size), price=Decimal(price))
    for tick in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"):
        m.TickSizeChanged(envelope=Envelope.new("ingest"), market="m", token_id="t", old_tick_size=Decimal("0.01"),
                          new_tick_size=Decimal(tick))
    with pytest.raises(MessageError, match="not one of the venue's"):
        m.TickSizeChanged(envelope=Envelope.new("ingest"), market="m", token_id="t", old_tick_size=Decimal("0.01"),
                          new_tick_size=Decimal(0))


def test_every_registered_message_type_travels_on_a_known_stream():
    carried = set().union(*STREAM_TYPES.values())
    assert set(REGISTRY.values()) <= carried, sorted(c.__name__ for c in set(REGISTRY.values()) - carried)
    assert accepted_types("events:main") == STREAM_TYPES["events"]
    assert accepted_types("some-test-stream") is None


def _dead_count(stream: str, reason: str) -> float:
    return metrics.DEAD_LETTERS.labels(stream=stream, reason=reason)._value.get()


async def test_wrong_type_oversized_and_out_of_bounds_entries_are_dead_lettered_and_counted(bus):
    seen: list[str] = []

    async def handle(delivery: Delivery) -> list[Output]:
        seen.append(delivery.message.market)
        return []

    before = {r: _dead_count("signals", r) for r in ("wrong_type", "too_large", "invalid")}
    consumer = bus.consumer("signals", "g", "c1", handle, block_ms=50, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    intent = OrderIntent(envelope=Envelope.new("strategy"), token_id="t", side=Side.BUY, size=Decimal(5),
                         price=Decimal("0.5"), reason="r", strategy="s", signal_key="k", market="m-wrong")
    await bus.publish("signals", intent)  # well formed, but no intent belongs on `signals`
    await bus.redis.xadd(bus.key("signals"), {"type": "external_signal", "v": "1",
                                              "data": "x" * (MAX_MESSAGE_BYTES + 1)})
    absurd = json.loads(m.to_json(ExternalSignal(envelope=Envelope.new("cli"), market="m-nan", probability=Decimal("0.5"),
                                       source="test")))
    absurd["probability"] = "NaN"  # well-formed JSON, out of the domain
    await bus.redis.xadd(bus.key("signals"), {"type": "external_signal", "v": "1", "data": json.dumps(absurd)})
    await bus.publish("signals", ExternalSignal(envelope=Envelope.new("cli"), market="m-after",
                                                probability=Decimal("0.5"), source="test"))
    try:
        await eventually(lambda: _true(seen == ["m-after"]))
        letters = await eventually(lambda: _letters(bus, 3))
    finally:
        consumer.stop()
        await task
    errors = [letter.error for letter in letters]
    assert errors[0] == "wrong type for signals: order_intent v1"
    assert errors[1].startswith("too large: ") and "bytes" in errors[1]
    assert errors[2].startswith("decode: invalid external_signal v1: probability")
    after = {r: _dead_count("signals", r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {"wrong_type": 1, "too_large": 1, "invalid": 1}


async def _true(value: bool) -> bool:
    return value


async def _letters(bus, n: int):
    letters = await bus.dead_letters("signals")
    return letters if len(letters) >= n else None
