"""Ingest book benchmark: price_change diffs per second decoded and applied by one process, beside
parsing the same frames with the same JSON library (pydantic-core's jiter) in the same run.

Run: python -m bench.ingest [--frames N] [--levels L]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import orjson
from pydantic_core import from_json

from services.ingest.book import BookSet
from shared.polymarket.book_hash import book_hash
from shared.polymarket.schemas import decode_market_frame

MARKET = "0x" + "5f" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


class _Tape:
    """A two-token market whose NO book mirrors YES, written as the venue's frames with real hashes."""

    def __init__(self, levels: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.books = {YES: ({}, {}), NO: ({}, {})}  # asset -> (bids, asks): cents -> size text
        for cents in range(50 - levels, 50):
            self._set(YES, "BUY", cents, str(self.rng.randint(1, 5000)))
        for cents in range(51, 51 + levels):
            self._set(YES, "SELL", cents, str(self.rng.randint(1, 5000)))

    def _set(self, asset: str, side: str, cents: int, size: str) -> None:
        # A YES bid at p is a NO ask at 1-p: every order changes both tokens.
        for token, s, c in ((asset, side, cents), (NO, "SELL" if side == "BUY" else "BUY", 100 - cents)):
            book = self.books[token][0 if s == "BUY" else 1]
            if size == "0":
                book.pop(c, None)
            else:
                book[c] = size

    def _wire(self, asset: str) -> tuple[list, list]:
        bids, asks = self.books[asset]
        return ([(f"0.{c:02d}", bids[c]) for c in sorted(bids)],
                [(f"0.{c:02d}", asks[c]) for c in sorted(asks, reverse=True)])

    def _hash(self, asset: str, ts: str) -> str:
        bids, asks = self._wire(asset)
        return book_hash(market=MARKET, asset_id=asset, timestamp=ts, bids=bids, asks=asks,
                         tick_size="0.01", neg_risk=False, last_trade_price="0.500")

    def snapshot(self) -> bytes:
        frames = []
        for asset in (YES, NO):
            bids, asks = self._wire(asset)
            frames.append({"market": MARKET, "asset_id": asset, "timestamp": "1", "hash": self._hash(asset, "1"),
                           "bids": [{"price": p, "size": s} for p, s in bids],
                           "asks": [{"price": p, "size": s} for p, s in asks],
                           "tick_size": "0.01", "last_trade_price": "0.500", "event_type": "book"})
        return orjson.dumps(frames)

    def change(self, ts: str) -> bytes:
        bids, asks = self.books[YES]
        side = self.rng.choice(("BUY", "SELL"))
        # Stay uncrossed: bids move in 0.01..0.49 (below every ask), asks in 0.51..0.99.
        cents = self.rng.randint(1, 49) if side == "BUY" else self.rng.randint(51, 99)
        size = "0" if self.rng.random() < 0.3 else f"{self.rng.randint(1, 90000) / 100:g}"
        self._set(YES, side, cents, size)
        entries = []
        for asset, s, c in ((YES, side, cents), (NO, "SELL" if side == "BUY" else "BUY", 100 - cents)):
            b, a = self.books[asset]
            entries.append({"asset_id": asset, "price": f"0.{c:02d}", "size": size, "side": s,
                            "hash": self._hash(asset, ts),
                            "best_bid": f"0.{max(b):02d}" if b else "0", "best_ask": f"0.{min(a):02d}" if a else "1"})
        return orjson.dumps({"market": MARKET, "price_changes": entries, "timestamp": ts,
                             "event_type": "price_change"})


def _rate(label: str, diffs: int, run: Callable[[], object], repeat: int = 3) -> float:
    best = min(_timed(run) for _ in range(repeat))
    rate = diffs / best
    print(f"  {label:<44} {rate:>12,.0f} diffs/s  ({best * 1e6 / diffs:5.2f} us/diff)")
    return rate


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000, help="price_change frames (2 diffs each)")
    parser.add_argument("--levels", type=int, default=20, help="levels per side at the start")
    args = parser.parse_args()
    tape = _Tape(args.levels, seed=7)
    snapshot = tape.snapshot()
    frames = [tape.change(str(2 + i)) for i in range(args.frames)]
    diffs = 2 * len(frames)
    print(f"ingest bench: {len(frames):,} price_change frames, {diffs:,} diffs, "
          f"{args.levels} levels/side at start, JSON library: pydantic-core (jiter)")

    def apply(every: int) -> Callable[[], object]:
        def run() -> None:
            books = BookSet(hash_check_every=every)
            books.feed(snapshot)
            for frame in frames:
                books.feed(frame)
            counters = books.counters
            assert counters["diffs"] == diffs and counters["resyncs"] == 0 and counters["malformed"] == 0
        return run

    def each(fn: Callable[[bytes], object]) -> Callable[[], None]:
        def run() -> None:
            for frame in frames:  # one at a time, results dropped, as the service consumes them
                fn(frame)
        return run

    parse = _rate("parse only (pydantic_core.from_json)", diffs, each(from_json))
    decode = _rate("decode only (decode_market_frame)", diffs, each(decode_market_frame))
    full = _rate("decode + apply, hash checked every change", diffs, apply(1))
    sampled = _rate("decode + apply, hash checked 1 in 16", diffs, apply(16))
    print(f"ratios to parse-only:  every-hash {full / parse:.2f}x, sampled {sampled / parse:.2f}x, "
          f"decode-only {decode / parse:.2f}x")
    print(f"ratios to decode-only: every-hash {full / decode:.2f}x, sampled {sampled / decode:.2f}x")
    print("goal: >= 50,000 diffs/s and >= 0.5x of parse-only")


if __name__ == "__main__":
    main()
