"""libFuzzer harness (atheris, not part of pytest): market-channel frames into decode_market_frame and BookSet.

    python tests/fuzz/atheris_market_frames.py -runs=100000

Crashes on any exception other than MarketFrameError from the decoder, and on any exception at all from
BookSet.feed (which returns Malformed instead). atheris is not a project dependency: pip install atheris.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from services.ingest.book import BookSet
    from shared.polymarket.schemas import MarketFrameError, decode_market_frame

SEED = (b'[{"event_type":"book","market":"m","asset_id":"a","timestamp":"1","tick_size":"0.01",'
        b'"bids":[{"price":"0.4","size":"10"}],"asks":[{"price":"0.6","size":"5"}]}]')
BOOKS = BookSet()
BOOKS.feed(SEED)


# Structure-aware half: the pydantic/jiter parser is native code that libFuzzer cannot see, so random bytes
# rarely become JSON; a valid frame with fuzzed field texts reaches the book code.
TEMPLATES = [
    '[{{"event_type":"book","market":"m","asset_id":"a","timestamp":"{0}","tick_size":"{1}",'
    '"bids":[{{"price":"{2}","size":"{3}"}}],"asks":[{{"price":"{4}","size":"{5}"}}],"last_trade_price":"{2}"}}]',
    '{{"event_type":"price_change","market":"m","timestamp":"{0}","price_changes":[{{"asset_id":"a",'
    '"price":"{2}","size":"{3}","side":"BUY","best_bid":"{4}","best_ask":"{5}","hash":"{1}"}}]}}',
    '{{"event_type":"tick_size_change","market":"m","asset_id":"a","new_tick_size":"{1}","timestamp":"{0}"}}',
    '{{"event_type":"best_bid_ask","market":"m","asset_id":"a","best_bid":"{2}","best_ask":"{4}","timestamp":"{0}"}}',
]


def _structured(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    template = TEMPLATES[fdp.ConsumeIntInRange(0, len(TEMPLATES) - 1)]
    texts = [fdp.ConsumeUnicodeNoSurrogates(12).replace("\\", "").replace('"', "") for _ in range(6)]
    return template.format(*texts).encode()


def test_one(data: bytes) -> None:
    if data[:1] == b"S":
        data = _structured(data[1:])
    try:
        decode_market_frame(data)
    except MarketFrameError:
        pass
    BOOKS.feed(data)
    if len(BOOKS.books) > 1000:  # keep memory flat over millions of runs
        BOOKS.books.clear()
        BOOKS.markets.clear()


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
