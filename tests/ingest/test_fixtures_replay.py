"""Real captured market-channel messages (tests/fixtures/) replayed through the book code.

Only the polypy messages_hash.txt tape is continuous (WS book -> price_change -> REST /book ...), so
best_bid/best_ask and REST-book equality are checked there; the other captures are separate frames and
are checked for what they can show: they parse, every level applies, both tokens move together.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import orjson
import pytest

from services.ingest.book import BookSet, DeltasApplied, Malformed, NeedsResync, SnapshotApplied, UnknownAsset
from shared.polymarket.schemas import BookSummary, MarketFrameError, decode_market_value, decode_rest_book
from tests.fixtures import fixture_path

HASH_TAPE = "polypy/orderbook/messages_hash.txt"
REPR_TAPES = [  # Python-repr lines written by polypy's author (Dec-2024 frames converted to the 2025 shape)
    "polypy/stream/test_server_messages.txt",
    "polypy/stream/test_server_multi_book.txt",
    "polypy/stream/test_server_multiple_last_trade_price.txt",
]


TAPE_MARKET = "0x2f1ab0ffaf465c4acd76b9a4a1f8980db26bfae7d248a6bb289350586028307e"
TAPE_ASSET = "94022367472047775158269173293876979533288470167463650966689320774843018181757"


def test_continuous_tape_rebuilds_the_venue_books():
    books = BookSet()
    # As in production, the market's tick is known from discovery before its first frame (0.01 here, as the
    # tape's REST books say); the WS book of Oct 2025 does not carry it.
    books.track(TAPE_ASSET, TAPE_MARKET, tick_size="0.01")
    rest_books_compared = 0
    for line in fixture_path(HASH_TAPE).read_bytes().splitlines():
        if not line.startswith((b"{", b"[")):
            continue  # the author's header lines
        value = orjson.loads(line)
        if "event_type" not in value:  # a REST /book taken right after the previous price_change
            rest = decode_rest_book(value)
            book = books.books[rest.asset_id]
            assert book.wire_bids() == [(lv.price, lv.size) for lv in rest.bids]
            assert book.wire_asks() == [(lv.price, lv.size) for lv in rest.asks]
            rest_books_compared += 1
            outcomes = books.apply_snapshot(rest)
        else:
            outcomes = [o for m in decode_market_value(value) for o in books.apply(m)]
        assert not [o for o in outcomes if isinstance(o, (Malformed, NeedsResync))]
    assert rest_books_compared == 2
    # Every best_bid/best_ask of an entry for the tracked token matched the rebuilt top; the entries
    # for the complement token (never snapshotted in this tape) are reported as unknown.
    assert books.counters["best_checked"] == 2 and books.counters["best_mismatch"] == 0
    assert books.counters["unknown_asset"] == 2
    # Oct-2025 frames carry no last_trade_price and hash without it (the older recipe): every hash of the
    # tracked token is checked, none skipped: the WS book, 2 price_change entries, 2 REST books.
    assert books.counters["hash_checked"] == 5 and books.counters["hash_mismatch"] == 0
    assert books.counters["hash_skipped"] == 0
    top = books.books[rest.asset_id].top()
    assert (top.bid, top.ask) == ("0.33", "0.34")


@pytest.mark.parametrize("name", REPR_TAPES)
def test_converted_tapes_apply_every_level(name):
    # best_bid/best_ask are placeholder "0" in these files, so only the levels are checked.
    books = BookSet(check_best=False)
    entries = 0
    for line in fixture_path(name).read_text().splitlines():
        if line.strip():
            value = ast.literal_eval(line)
            messages = decode_market_value(value)
            entries += sum(len(getattr(m, "price_changes", ())) for m in messages)
            for message in messages:
                assert not [o for o in books.apply(message) if isinstance(o, (Malformed, UnknownAsset))]
    assert books.counters["diffs"] + books.counters["ignored_awaiting_snapshot"] == entries > 0
    assert books.counters["hash_mismatch"] == 0


def test_negative_polypy_tapes_are_reported_not_fatal():
    unknown_event = fixture_path("polypy/stream/test_server_unknown_event_type.txt")
    book_line, test_line = unknown_event.read_text().splitlines()
    assert decode_market_value(ast.literal_eval(book_line))
    with pytest.raises(MarketFrameError, match="unknown event_type 'test'"):
        decode_market_value(ast.literal_eval(test_line))
    books = BookSet()
    wrong_asset = fixture_path("polypy/stream/test_server_wrong_asset_id.txt")
    outcomes = [o for line in wrong_asset.read_text().splitlines()
                for m in decode_market_value(ast.literal_eval(line)) for o in books.apply(m)]
    assert UnknownAsset("1234", "price_change") in outcomes


@pytest.mark.parametrize("name", ["polymarket-captures/python-ws/price_change_v2.json",
                                  "polymarket-captures/rust-test-data/ws_quotes.json",
                                  "polymarket-captures/rust-test-data/ws_market_price_change_msg.json"])
def test_standalone_price_changes_apply_every_level(name):
    value = orjson.loads(fixture_path(name).read_bytes())
    value.setdefault("event_type", "price_change")  # ws_quotes.json is a body without its tag
    (message,) = decode_market_value(value)
    # No snapshot belongs to these frames: start each token from an empty book, checks off.
    books = BookSet(check_best=False)
    assets = dict.fromkeys(e.asset_id for e in message.price_changes)
    for asset in assets:
        books.apply_snapshot(BookSummary(market=message.market, asset_id=asset, timestamp="0", bids=(), asks=()))
    outcomes = books.apply(message)
    assert books.counters["diffs"] == len(message.price_changes)
    assert {o.asset_id for o in outcomes if isinstance(o, (DeltasApplied, NeedsResync))} == set(assets)


def test_captured_books_load():
    paths = ["polymarket-captures/python-ws/book.json", "polymarket-captures/python-http/book.json",
             "polypy/orderbook/ws_msg_book_yes.json", "polypy/order/book_data_a.txt",
             "polypy/order/book_data_b.txt"]
    books = BookSet()
    for path in paths:
        value = orjson.loads(fixture_path(path).read_bytes())
        value = value.get("book", value)
        (outcome, *rest) = books.apply_snapshot(decode_rest_book(value))
        assert isinstance(outcome, SnapshotApplied) and not rest
        assert len(outcome.bids) == len(value["bids"]) and len(outcome.asks) == len(value["asks"])
        # 2024 books hash under an older recipe (and carry no last trade price): not checkable.
        assert outcome.hash_ok is None


@pytest.mark.processes  # starts polydesk processes: not in make test-fast
def test_book_replay_cli_on_the_continuous_tape():
    run = subprocess.run([sys.executable, "-m", "polydesk", "book-replay", str(fixture_path(HASH_TAPE))],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    (book,) = orjson.loads(run.stdout).values()
    assert book["bids"][0] == ["0.33", "152.17"] and book["asks"][0] == ["0.34", "914.14"]
    assert book["tick_size"] == "0.01" and book["hash_ok"] is True  # the older recipe (no last trade price)
    assert "line 1: malformed" in run.stderr  # the author's header line, reported and skipped
