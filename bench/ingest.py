"""Ingest book benchmark: price_change diffs per second decoded and applied by one process, beside
parsing the same frames with the same JSON library (pydantic-core's jiter) in the same run.

Every price_change entry of the tape carries the venue's hash of its token's book after it; the checked run
verifies each (one hash per token per frame; see BookSet._check_entry for why that is every hash's verdict).

Also the CPU ingest spends per frame of the 10k/s pipeline run's shape (bench/feed.py: 500 markets, 1,000
tokens, one change a frame, both tokens hashed): the whole Feed path (decode, books, every hash, BookDeltas
built and bounds-checked, book states, metrics) with a bus that only counts what it is given, beside parsing
the same frames; the socket and Redis are not in it.

Run: python -m bench.ingest [--frames N] [--levels L] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import httpx
import orjson
from pydantic_core import from_json

from bench.feed import MarketBook, build_run
from bench.goals import GoalResult
from services.ingest.book import BookSet
from services.ingest.config import IngestSettings
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from shared.messages import MarketInfo, TokenInfo
from shared.polymarket.book_hash import book_hash
from shared.polymarket.schemas import decode_market_frame
from shared.streams import Bus

MARKET = "0x" + "5f" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


class _Tape:
    """A two-token market whose NO book mirrors YES, written as the venue's frames with real hashes."""

    def __init__(self, levels: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.books: dict[str, tuple[dict[int, str], dict[int, str]]] = {
            YES: ({}, {}),
            NO: ({}, {}),
        }  # asset -> (bids, asks): cents -> size text
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
        return (
            [(f"0.{c:02d}", bids[c]) for c in sorted(bids)],
            [(f"0.{c:02d}", asks[c]) for c in sorted(asks, reverse=True)],
        )

    def _hash(self, asset: str, ts: str) -> str:
        bids, asks = self._wire(asset)
        return book_hash(
            market=MARKET,
            asset_id=asset,
            timestamp=ts,
            bids=bids,
            asks=asks,
            tick_size="0.01",
            neg_risk=False,
            last_trade_price="0.500",
        )

    def snapshot(self) -> bytes:
        frames = []
        for asset in (YES, NO):
            bids, asks = self._wire(asset)
            frames.append(
                {
                    "market": MARKET,
                    "asset_id": asset,
                    "timestamp": "1",
                    "hash": self._hash(asset, "1"),
                    "bids": [{"price": p, "size": s} for p, s in bids],
                    "asks": [{"price": p, "size": s} for p, s in asks],
                    "tick_size": "0.01",
                    "last_trade_price": "0.500",
                    "event_type": "book",
                }
            )
        return orjson.dumps(frames)

    def change(self, ts: str) -> bytes:
        side = self.rng.choice(("BUY", "SELL"))
        # Stay uncrossed: bids move in 0.01..0.49 (below every ask), asks in 0.51..0.99.
        cents = self.rng.randint(1, 49) if side == "BUY" else self.rng.randint(51, 99)
        size = "0" if self.rng.random() < 0.3 else f"{self.rng.randint(1, 90000) / 100:g}"
        self._set(YES, side, cents, size)
        entries = []
        for asset, s, c in ((YES, side, cents), (NO, "SELL" if side == "BUY" else "BUY", 100 - cents)):
            b, a = self.books[asset]
            entries.append(
                {
                    "asset_id": asset,
                    "price": f"0.{c:02d}",
                    "size": size,
                    "side": s,
                    "hash": self._hash(asset, ts),
                    "best_bid": f"0.{max(b):02d}" if b else "0",
                    "best_ask": f"0.{min(a):02d}" if a else "1",
                }
            )
        return orjson.dumps(
            {"market": MARKET, "price_changes": entries, "timestamp": ts, "event_type": "price_change"}
        )


GOAL_DIFFS_PER_SEC = 100_000
# The pipeline's sustained run sends 10k frames/s; ingest also reads them off the socket and publishes to Redis,
# so the frames alone should take at most half a core.
GOAL_FRAMES_PER_SEC = 20_000
FRAME_MARKETS = 500


class _CountingBus:
    """What Feed needs of a bus, counting what it is given instead of writing to Redis."""

    def __init__(self) -> None:
        self.published = self.dead = 0

    async def publish_many(self, outputs: list[Any]) -> None:
        self.published += len(outputs)

    async def dead_letter(self, *args: object, **kwargs: object) -> None:
        self.dead += 1


def _market_info(book: MarketBook) -> MarketInfo:
    tokens = (TokenInfo(token_id=book.yes, outcome="Yes"), TokenInfo(token_id=book.no, outcome="No"))
    return MarketInfo(
        condition_id=book.condition_id, question="bench", slug="bench", tokens=tokens,
        tick_size=Decimal("0.01"), min_order_size=Decimal(5),
    )  # fmt: skip


def _timed(run: Callable[[], object]) -> float:
    """CPU seconds the run took in this process: on a machine shared with other work, wall time would also
    count the time the scheduler gave the core to someone else. One process, one thread: its CPU time is
    what a core dedicated to it would take."""
    start = time.process_time()
    run()
    return time.process_time() - start


def _best_of(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best time of each run, the runs interleaved so that a burst of load elsewhere hits them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            best[name] = min(best[name], _timed(run))
    return best


def measure_frames(frames: int = 20_000, repeat: int = 5, batch: int = 10) -> dict[str, float]:
    """CPU seconds per frame of Feed.on_frames on bench-feed frames (`batch` frames a call, as the socket hands
    them over under load; the books loaded from their snapshots first, untimed), and of parsing the same
    frames; the best of `repeat` interleaved runs each."""
    books = [
        MarketBook(f"0x{i:064x}", str(10**70 + 2 * i), str(10**70 + 2 * i + 1)) for i in range(FRAME_MARKETS)
    ]
    snapshot = orjson.dumps([frame for book in books for frame in book.snapshot("1000")])
    tape: list[str | bytes] = [frame.data for frame in build_run(books, 2000, 10_000, frames / 10_000, 50)]

    async def feed_tape() -> float:
        bus = _CountingBus()
        settings = IngestSettings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings' own argument
        feed = Feed(settings, cast(Bus, bus), ShardMap(("main",), {}), http=httpx.AsyncClient())
        for book in books:
            feed.track_market(_market_info(book))
        await feed.on_frames([snapshot])
        published = bus.published
        start = time.process_time()
        for i in range(0, len(tape), batch):
            await feed.on_frames(tape[i : i + batch])
        seconds = time.process_time() - start
        counters = feed.books.counters
        assert counters["hash_mismatch"] == 0 and counters["resyncs"] == 0 and bus.dead == 0
        assert bus.published - published == len(tape)  # one BookDelta a frame
        return seconds

    best = {"feed": float("inf"), "parse": float("inf")}
    for _ in range(repeat):
        best["feed"] = min(best["feed"], asyncio.run(feed_tape()))
        best["parse"] = min(best["parse"], _timed(lambda: [from_json(frame) for frame in tape]))
    return {name: seconds / len(tape) for name, seconds in best.items()}


def measure(frames: int = 20_000, levels: int = 20, repeat: int = 5) -> dict[str, float]:
    """Diffs/s of each way of consuming the same tape, plus the hash counts of the checked run."""
    tape = _Tape(levels, seed=7)
    snapshot = tape.snapshot()
    tape_frames = [tape.change(str(2 + i)) for i in range(frames)]
    diffs = 2 * len(tape_frames)
    checked: dict[str, int] = {}

    def apply(every: int) -> Callable[[], object]:
        def run() -> None:
            books = BookSet(hash_check_every=every)
            books.feed(snapshot)
            for frame in tape_frames:
                books.feed(frame)
            counters = books.counters
            assert counters["diffs"] == diffs and counters["resyncs"] == 0 and counters["malformed"] == 0
            if every == 1:
                checked.update(counters)

        return run

    def each(fn: Callable[[bytes], object]) -> Callable[[], None]:
        def run() -> None:
            for frame in tape_frames:  # one at a time, results dropped, as the service consumes them
                fn(frame)

        return run

    best = _best_of(
        {
            "parse": each(from_json),
            "decode": each(decode_market_frame),
            "every_hash": apply(1),
            "sampled": apply(16),
        },
        repeat,
    )
    rates = {name: diffs / seconds for name, seconds in best.items()}
    # Every price_change entry of the tape carries a hash; the snapshot's two frames too.
    rates["hashes_sent"] = diffs + 2
    rates["hashes_checked"] = checked["hash_checked"]
    rates["hashes_implied"] = checked["hash_implied"]
    return rates


def run_goals(frames: int = 20_000, levels: int = 20, repeat: int = 5) -> list[GoalResult]:
    """The ingest goals: >= 100k diffs/s per process, every venue hash verified, beside parse-only; and the
    frames of the 10k/s shape at >= 20k/s per core."""
    return goals(measure(frames, levels, repeat)) + [frame_goal(measure_frames(frames, repeat))]


def frame_goal(per_frame: dict[str, float]) -> GoalResult:
    ours, parse = 1 / per_frame["feed"], 1 / per_frame["parse"]
    return GoalResult.judge(
        "ingest frames/s per core, the 10k/s run's shape (one change a frame, 1,000 tokens), socket and Redis aside",
        f"{ours:,.0f} frames/s ({per_frame['feed'] * 1e6:.1f} us/frame CPU)",
        ours / parse,
        GOAL_FRAMES_PER_SEC / parse,
        detail=(
            f">= {GOAL_FRAMES_PER_SEC:,} frames/s (10k/s in half a core); parse-only {parse:,.0f} frames/s in the same "
            f"run; decode, books, every venue hash, one BookDelta built and bounds-checked a frame"
        ),
    )


def goals(rates: dict[str, float]) -> list[GoalResult]:
    parse, ours = rates["parse"], rates["every_hash"]
    verified = int(rates["hashes_checked"] + rates["hashes_implied"])
    return [
        GoalResult.judge(
            "ingest diffs/s per process, every venue hash verified",
            f"{ours:,.0f} diffs/s",
            ours / parse,
            GOAL_DIFFS_PER_SEC / parse,  # the ratio to parse-only that 100k diffs/s is in this run
            detail=(
                f">= {GOAL_DIFFS_PER_SEC:,} diffs/s; parse-only (pydantic_core.from_json) {parse:,.0f} diffs/s "
                f"in the same run; hashes verified {verified:,} of {int(rates['hashes_sent']):,} sent "
                f"({int(rates['hashes_implied']):,} by their token's first check in the frame)"
            ),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000, help="price_change frames (2 diffs each)")
    parser.add_argument("--levels", type=int, default=20, help="levels per side at the start")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each kind; the best counts")
    args = parser.parse_args()
    print(
        f"ingest bench: {args.frames:,} price_change frames, {2 * args.frames:,} diffs, {args.levels} levels/side "
        f"at start; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    rates = measure(args.frames, args.levels, args.repeat)
    labels = {
        "parse": "parse only (pydantic_core.from_json)",
        "decode": "decode only (decode_market_frame)",
        "every_hash": "decode + apply, every venue hash verified",
        "sampled": "decode + apply, 1 in 16 hashes",
    }
    for name, label in labels.items():
        print(
            f"  {label:<44} {rates[name]:>12,.0f} diffs/s  ({1e6 / rates[name]:5.2f} us/diff)"
            f"  {rates[name] / rates['parse']:.3f}x parse-only"
        )
    per_frame = measure_frames(args.frames, args.repeat)
    print(
        f"  Feed.on_frames, the 10k/s run's frames ({FRAME_MARKETS} markets, one change a frame) "
        f"{per_frame['feed'] * 1e6:5.2f} us/frame CPU  ({per_frame['feed'] / per_frame['parse']:.1f}x parse-only, "
        f"{per_frame['parse'] * 1e6:.2f} us)"
    )
    for goal in [*goals(rates), frame_goal(per_frame)]:
        print(goal.line())


if __name__ == "__main__":
    main()
