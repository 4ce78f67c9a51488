"""Market-channel frames: decode_market_frame raises only MarketFrameError, BookSet.feed never raises and
keeps working after garbage, and Feed.on_frame dead-letters every bad frame (with its reason) on a real bus."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.ingest.book import BookSet, Malformed, SnapshotApplied
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from shared.messages import BookSnapshot, BookStatus
from shared.polymarket.schemas import MarketFrameError, decode_market_frame
from shared.redis_conn import connect
from shared.streams import Bus, dead_letter_stream, events_stream
from tests.fuzz.conftest import FAST, FAST_IO, SLOW, SLOW_IO, captures
from tests.fuzz.strategies import JSON, dumps, frames_from, mutated
from tests.ingest.paper import ingest_settings

MARKET = "0x" + "ab" * 32
YES, NO = "111", "222"
TS = "1764000000000"


def book(asset: str, bids=(("0.40", "10"),), asks=(("0.45", "5"),), ts: str = TS) -> dict:
    return {"event_type": "book", "market": MARKET, "asset_id": asset, "timestamp": ts, "tick_size": "0.01",
            "bids": [{"price": p, "size": s} for p, s in bids], "asks": [{"price": p, "size": s} for p, s in asks]}


OWN_SEEDS = [
    [book(YES), book(NO, bids=(("0.55", "5"),), asks=(("0.60", "10"),))],
    {"event_type": "price_change", "market": MARKET, "timestamp": "1764000000001",
     "price_changes": [{"asset_id": YES, "price": "0.41", "size": "3", "side": "BUY", "best_bid": "0.41",
                        "best_ask": "0.45"},
                       {"asset_id": NO, "price": "0.59", "size": "3", "side": "SELL", "best_bid": "0.55",
                        "best_ask": "0.59"}]},
    {"event_type": "last_trade_price", "market": MARKET, "asset_id": YES, "price": "0.45", "side": "BUY",
     "size": "5", "fee_rate_bps": "0", "timestamp": "1764000000002"},
    {"event_type": "tick_size_change", "market": MARKET, "asset_id": YES, "old_tick_size": "0.01",
     "new_tick_size": "0.001", "timestamp": "1764000000003"},
    {"event_type": "best_bid_ask", "market": MARKET, "asset_id": YES, "best_bid": "0.40", "best_ask": "0.45",
     "spread": "0.05", "timestamp": "1764000000004"},
]
CAPTURED_SEEDS = captures(
    "polymarket-captures/python-ws/book.json",
    "polymarket-captures/python-ws/price_change_v2.json",
    "polymarket-captures/python-ws/last_trade_price.json",
    "polymarket-captures/python-ws/tick_size_change.json",
    "polymarket-captures/rust-test-data/ws_market_book_msg.json",
    "polymarket-captures/rust-test-data/ws_market_price_change_msg.json",
    "polymarket-captures/rust-test-data/ws_market_best_bid_ask_msg.json",
    "polymarket-captures/rust-test-data/ws_market_new_market_msg.json",
    "polymarket-captures/rust-test-data/ws_market_resolved_msg.json",
    "polymarket-captures/rust-test-data/ws_market_tick_size_msg.json",
    "polymarket-captures/rust-test-data/ws_market_last_trade_msg.json",
)
SEEDS = OWN_SEEDS + CAPTURED_SEEDS
FRAMES = frames_from(st.one_of(st.sampled_from(SEEDS).flatmap(mutated), JSON))


def check_decode(raw: str | bytes) -> None:
    try:
        messages = decode_market_frame(raw)
    except MarketFrameError as error:
        assert error.reason and isinstance(error.reason, str)
        assert error.raw is raw
    else:
        assert isinstance(messages, list)


def test_every_seed_decodes():
    for seed in SEEDS:
        assert decode_market_frame(dumps(seed))


@FAST
@given(FRAMES)
@example(b"[" * 100_000)
@example("\ud800")
@example('{"event_type": "book"}')
@example(dumps([{"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [[]]}]))
def test_decode_raises_only_market_frame_error(raw):
    check_decode(raw)


@pytest.mark.slow
@SLOW
@given(FRAMES)
def test_decode_raises_only_market_frame_error_long(raw):
    check_decode(raw)


def _fresh_books() -> BookSet:
    books = BookSet(auto_track=False)
    books.track(YES, MARKET, tick_size="0.01")
    books.track(NO, MARKET, tick_size="0.01")
    return books


def check_book_set(frames: list[str | bytes]) -> None:
    books = _fresh_books()
    books.feed(dumps(OWN_SEEDS[0]))
    for raw in frames:
        for outcome in books.feed(raw):  # never raises
            if isinstance(outcome, Malformed):
                assert outcome.reason
    # Whatever came before, a valid snapshot applies and reads back exactly.
    outcomes = books.feed(dumps(book(YES, bids=(("0.30", "7"),), asks=(("0.70", "8"),))))
    snap = next(o for o in outcomes if isinstance(o, SnapshotApplied))
    assert (snap.top.bid, snap.top.bid_size, snap.top.ask, snap.top.ask_size) == ("0.30", "7", "0.70", "8")
    assert books.books[YES].synced


@FAST
@given(st.lists(FRAMES, max_size=6))
@example([dumps(book(YES, bids=(("9" * 5000, "1"),)))])
@example([dumps(book(YES, bids=(("1.5", "1"),)))])
@example([dumps(dict(OWN_SEEDS[1], price_changes=[dict(OWN_SEEDS[1]["price_changes"][0], price="0.123456789")]))])
def test_book_set_never_raises_and_recovers_with_a_snapshot(frames):
    check_book_set(frames)


@pytest.mark.slow
@SLOW
@given(st.lists(FRAMES, max_size=10))
def test_book_set_never_raises_and_recovers_with_a_snapshot_long(frames):
    check_book_set(frames)


# ---- end to end: Feed.on_frame on a real Redis bus ------------------------------------------------------

async def _run_feed(redis_url: str, prefix: str, frames: list[str | bytes]) -> None:
    client = connect(redis_url)
    bus = Bus(client, prefix=prefix, producer="fuzz")
    stream = events_stream("main")
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as http:
            feed = Feed(ingest_settings(), bus, ShardMap(("main",), {}), http=http)
            for asset in (YES, NO):
                feed.books.track(asset, MARKET, tick_size="0.01")
            for raw in frames:
                await feed.on_frame(raw)  # never raises
            malformed = feed.counts["malformed"]
            before = await bus.length(stream)
            await feed.on_frame(dumps(book(YES, bids=(("0.30", "7"),), asks=(("0.70", "8"),), ts="1764000009999")))
            await feed.close()
        dead = await client.xrange(bus.key(dead_letter_stream(stream)))
        # Every malformed frame is dead-lettered (the raw frame and a non-empty reason); nothing else is.
        assert len(dead) == malformed
        for _, fields in dead:
            assert fields[b"error"] and b"raw" in fields
        # And the feed still publishes: the valid snapshot after the garbage reaches the events stream.
        history = await bus.history(stream, count=10_000)
        # The snapshot, with the book's status beside it when the snapshot changed it (BookStatus VALID).
        new = [message for _, message in history[before:]]
        snapshots = [message for message in new if isinstance(message, BookSnapshot)]
        assert len(snapshots) == 1 and snapshots[0].token_id == YES and snapshots[0].bids[0].size == 7
        assert all(isinstance(message, BookSnapshot | BookStatus) for message in new)
        assert all(message is not None for _, message in history)  # everything published decodes
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def check_feed(redis_url: str, frames: list[str | bytes]) -> None:
    asyncio.run(_run_feed(redis_url, f"test:fuzz:{uuid.uuid4().hex[:10]}:", frames))


@FAST_IO
@given(frames=st.lists(FRAMES, max_size=5))
@example(frames=[dumps(book(YES, bids=(("1.5", "1"),)))])
@example(frames=[dumps(dict(OWN_SEEDS[2], price="7"))])
@example(frames=["{\ud800"])
def test_feed_dead_letters_every_bad_frame_and_goes_on(redis_url, frames):
    check_feed(redis_url, frames)


@pytest.mark.slow
@SLOW_IO
@given(frames=st.lists(FRAMES, max_size=8))
def test_feed_dead_letters_every_bad_frame_and_goes_on_long(redis_url, frames):
    check_feed(redis_url, frames)
