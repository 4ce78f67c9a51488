"""The market-channel wire models and frame decoder, on real captured frames and broken ones."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from shared.polymarket.schemas import (
    BestBidAskMessage,
    BookMessage,
    LastTradePriceMessage,
    MarketFrameError,
    MarketResolvedMessage,
    NewMarketMessage,
    PriceChangeMessage,
    TickSizeChangeMessage,
    decode_market_frame,
    decode_market_value,
    decode_rest_book,
)
from tests.fixtures import fixture_path

CAPTURES = {
    "python-ws/book.json": BookMessage,
    "python-ws/last_trade_price.json": LastTradePriceMessage,
    "python-ws/tick_size_change.json": TickSizeChangeMessage,
    "python-ws/price_change_v2.json": PriceChangeMessage,
    "rust-test-data/ws_market_best_bid_ask_msg.json": BestBidAskMessage,
    "rust-test-data/ws_market_new_market_msg.json": NewMarketMessage,
    "rust-test-data/ws_market_resolved_msg.json": MarketResolvedMessage,
}


@pytest.mark.parametrize("name,model", CAPTURES.items())
def test_captured_frames_decode_to_their_model(name, model):
    raw = fixture_path("polymarket-captures/" + name).read_bytes()
    (message,) = decode_market_frame(raw)
    assert type(message) is model
    assert decode_market_value(orjson.loads(raw)) == [message]


def test_numbers_stay_strings_exactly_as_sent():
    (book,) = decode_market_frame(fixture_path("polymarket-captures/python-ws/book.json").read_bytes())
    assert book.asks[0].price == "0.999" and book.asks[0].size == "10500100"
    assert book.timestamp == "1728799418260" and len(book.hash) == 40
    (new,) = decode_market_frame(
        fixture_path("polymarket-captures/rust-test-data/ws_market_new_market_msg.json").read_bytes())
    assert len(new.assets_ids) == 2 and new.event_message.ticker


def test_array_frames_and_int_timestamps():
    level = {"price": "0.5", "size": "1"}
    book = {"event_type": "book", "market": "m", "asset_id": "a", "timestamp": 1761179883493,
            "hash": "h", "bids": [level], "asks": [], "extra_field": 1}
    messages = decode_market_frame(orjson.dumps([book, dict(book, asset_id="b")]))
    assert [m.asset_id for m in messages] == ["a", "b"]
    assert messages[0].timestamp == "1761179883493"
    assert decode_market_frame(b"  []") == []
    assert decode_market_frame(orjson.dumps(book).decode())[0].bids[0].price == "0.5"


def test_models_are_frozen():
    (book,) = decode_market_frame(b'{"event_type":"book","market":"m","asset_id":"a","timestamp":"1",'
                                  b'"bids":[],"asks":[]}')
    with pytest.raises(ValidationError):
        book.asset_id = "b"


@pytest.mark.parametrize("raw,reason", [
    (b"{not json", "invalid JSON"),
    (b'"PONG"', "object"),
    (b'{"market":"m"}', "no event_type"),
    (b'{"event_type":"order"}', "unknown event_type 'order'"),
    (b'[{"event_type":"book","market":"m","asset_id":"a","timestamp":"1","bids":[],"asks":[]},{"x":1}]',
     "no event_type"),
    (b'{"event_type":"price_change","market":"m","timestamp":"1","price_changes":'
     b'[{"asset_id":"a","price":"0.5","size":"1","side":"buy"}]}', "side"),
    (b'{"event_type":"price_change","market":"m","timestamp":"1","price_changes":'
     b'[{"asset_id":"a","price":"-0.5","size":"1","side":"BUY"}]}', "price"),
    (b'{"event_type":"book","market":"m","timestamp":"1","bids":[],"asks":[]}', "asset_id"),
])
def test_malformed_frames_raise_with_reason_and_raw(raw, reason):
    with pytest.raises(MarketFrameError) as caught:
        decode_market_frame(raw)
    assert reason in caught.value.reason and caught.value.raw == raw


def test_legacy_price_change_is_rejected_by_name():
    raw = fixture_path("polymarket-captures/python-ws/price_change.json").read_bytes()
    with pytest.raises(MarketFrameError, match="legacy price_change"):
        decode_market_frame(raw)


def test_rest_book_without_event_type():
    book = decode_rest_book(fixture_path("polypy/orderbook/ws_msg_book_yes.json").read_bytes())
    assert len(book.bids) == 14 and len(book.asks) == 4
    with pytest.raises(MarketFrameError):
        decode_rest_book(b'{"bids": []}')
