"""The bench feed's pre-built frames are the venue's: ingest's BookSet applies every one with every hash
verified, triggers come out one in N and none is left standing after a run (no speed asserted)."""

from __future__ import annotations

import orjson

import time

from bench.feed import TRIGGER_CENTS, FeedServer, MarketBook, book_hash, build_run, price_text
from services.ingest.book import BookSet, DeltasApplied, NeedsResync
from shared.polymarket import book_hash as venue

MARKETS = [("0x" + f"{i:02x}" * 32, str(10**70 + 2 * i), str(10**70 + 2 * i + 1)) for i in range(7)]


def _books() -> list[MarketBook]:
    return [MarketBook(cid, yes, no) for cid, yes, no in MARKETS]


def test_inlined_hash_is_the_venue_recipe() -> None:
    bids, asks = [("0.3", "10"), ("0.45", "5")], [("0.7", "10")]
    assert book_hash("0xab", "1", "17", bids, asks) == venue.book_hash(
        market="0xab", asset_id="1", timestamp="17", bids=bids, asks=asks, tick_size="0.01", neg_risk=False,
        last_trade_price="0.500")
    assert [price_text(c) for c in (2, 30, 45, 98)] == ["0.02", "0.3", "0.45", "0.98"]


def test_every_frame_of_two_runs_verifies_in_ingests_books() -> None:
    books = _books()
    ingest = BookSet(hash_check_every=1)
    for book in books:
        ingest.feed(orjson.dumps(book.snapshot("1000")))
    triggers = 0
    for run, start in enumerate((2_000, 9_000)):
        frames = build_run(books, start, rate=1000, seconds=0.5, every=10)
        triggers += sum(1 for f in frames if f.trigger_key)
        for frame in frames:
            outcomes = ingest.feed(frame.data)
            assert not [o for o in outcomes if isinstance(o, NeedsResync)], (run, frame)
            assert sum(isinstance(o, DeltasApplied) for o in outcomes) == 2
        assert not any(TRIGGER_CENTS in b.bids for b in books)  # no trigger outlives its run
    assert triggers == 2 * 500 // 10
    assert ingest.counters["hash_mismatch"] == 0 and ingest.counters["hash_checked"] >= 2 * 2 * 500


async def test_each_change_goes_out_as_its_own_text_frame_as_the_venue_sends_them() -> None:
    """Live market events are one JSON object per WebSocket frame (issue 14); the feed sends its changes so,
    also those due in the same millisecond (batching them into arrays spared ingest per-frame work)."""

    class Socket:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, text: str) -> None:
            self.sent.append(text)

    server = FeedServer([{"condition_id": cid, "token_ids": [yes, no]} for cid, yes, no in MARKETS])
    sockets = {index: Socket() for index in range(len(MARKETS))}
    server.sockets = {index: {ws} for index, ws in sockets.items()}  # type: ignore[misc]
    frames = build_run(server.books, 2_000, rate=100_000, seconds=0.001, every=10)  # 100 due in the same ms
    await server.send(frames, time.time_ns())
    sent = [text for ws in sockets.values() for text in ws.sent]
    assert len(sent) == len(frames)
    assert all(isinstance(text, str) and isinstance(orjson.loads(text), dict) for text in sent)
