"""Ingest at the venue boundary (issue 15 #4, #5): a tick size change to 0, a book with tick 0 or a level of
1e30 shares is refused alone, dead-lettered with its reason, and the frame's other messages still go out; the
book keeps its venue tick. Feed.on_frame on a real Redis bus."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from shared.messages import BookSnapshot, LastTrade, TickSizeChanged
from shared.polymarket.schemas import decode_market_frame_tolerant
from shared.streams import dead_letter_stream, events_stream
from tests.ingest.paper import ingest_settings

MARKET = "0x" + "cd" * 32
YES, NO = "333", "444"


def book(asset: str, tick: str = "0.01", size: str = "10") -> dict:
    return {"event_type": "book", "market": MARKET, "asset_id": asset, "timestamp": "1764000000000",
            "tick_size": tick, "bids": [{"price": "0.40", "size": size}], "asks": [{"price": "0.45", "size": "5"}]}


def tick_change(new: str) -> dict:
    return {"event_type": "tick_size_change", "market": MARKET, "asset_id": YES, "old_tick_size": "0.01",
            "new_tick_size": new, "timestamp": "1764000000003"}


def last_trade() -> dict:
    return {"event_type": "last_trade_price", "market": MARKET, "asset_id": YES, "price": "0.45", "side": "BUY",
            "size": "5", "fee_rate_bps": "0", "timestamp": "1764000000002"}


def test_the_tolerant_decoder_refuses_bad_items_alone():
    frame = json.dumps([book(YES), tick_change("0"), book(NO, size="1" + "0" * 30), last_trade()])
    decoded = decode_market_frame_tolerant(frame)
    assert [m.event_type for m in decoded.messages] == ["book", "last_trade_price"]
    reasons = [reason for _, reason in decoded.invalid]
    assert "not one of the venue's" in reasons[0] and "size" in reasons[1]


async def test_a_tick_change_to_zero_is_dead_lettered_and_the_rest_published(bus):
    stream = events_stream("main")
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as http:
        feed = Feed(ingest_settings(), bus, ShardMap(("main",), {}), http=http)
        for asset in (YES, NO):
            feed.books.track(asset, MARKET, tick_size="0.01")
        await feed.on_frame(json.dumps([book(YES), book(NO, tick="0")]))
        await feed.on_frame(json.dumps([tick_change("0"), last_trade()]))
        await feed.on_frame(json.dumps(tick_change("0.000")))
        await feed.close()
    published = [m for _, m in await bus.history(stream)]
    assert all(m is not None for m in published)
    snapshots = [m for m in published if isinstance(m, BookSnapshot)]
    assert [(s.token_id, str(s.tick_size)) for s in snapshots] == [(YES, "0.01")]
    assert len([m for m in published if isinstance(m, LastTrade)]) == 1
    assert not [m for m in published if isinstance(m, TickSizeChanged)]
    assert feed.books.books[YES].tick_size == "0.01"  # never took the tick of 0
    dead = await bus.redis.xrange(bus.key(dead_letter_stream(stream)))
    errors = [fields[b"error"].decode() for _, fields in dead]
    assert len(errors) == 3 and all("not one of the venue's" in e for e in errors)


def test_a_gamma_market_out_of_the_venue_domain_is_refused_not_raised():
    from shared.polymarket.gamma import GammaMarket
    from shared.polymarket.parse import market_info

    base = {"conditionId": MARKET, "clobTokenIds": [YES, NO], "outcomes": ["Yes", "No"]}
    assert market_info(GammaMarket.model_validate({**base, "orderPriceMinTickSize": 0.001})).tick_size == \
        Decimal("0.001")
    for bad in ({"orderPriceMinTickSize": 0}, {"orderMinSize": 1e30}):
        assert market_info(GammaMarket.model_validate({**base, **bad})) is None
