"""The bench's market channel: a separate process that sends pre-built `price_change` frames at a target rate.

`polydesk bench` points ingest's POLYDESK_MARKET_WS_URL here, so the generator's cost is not the pipeline's:
every frame of a run is built (books, venue hashes, JSON text) before the run starts, and the run only
sends them on time. The books are the bench markets' YES bids (the NO books mirror them as asks), hashed
with the venue's recipe (shared.polymarket.book_hash) as the paper exchange does, so ingest verifies
every frame exactly as it verifies the venue's.

Each change is one YES bid level: a house-like bid placed at a cycling price (size 10), the oldest one
withdrawn, or, once in `trigger_every` changes, a *trigger*: a bid at the trigger price (the `bench`
strategy orders on it). A trigger is withdrawn at the market's next change, and every trigger still
standing is withdrawn when a run ends, so a trigger price level never outlives its run; a run that left
one standing made the next run's withdrawal of a new trigger on that market look like a trigger again
(a level going 10 -> 5 at the trigger price), the orders-above-triggers oddity of earlier results.

Protocol as the venue's market channel (what ingest uses): first frame `{"type": "market", "assets_ids":
[...]}`, later `{"operation": "subscribe", ...}`; a `book` array on subscribe; text PING -> PONG. Each change
is its own text frame, one JSON object, as the venue sends live events (only a subscription's snapshot is
an array); frames due in the same millisecond are written back to back. Each trigger is recorded as
"<market>|<frame timestamp ms>" -> time.time_ns() just before its frame was written to the socket.

Driven over a multiprocessing Pipe: ("run", rate, seconds, trigger_every) -> ("started", frames) once
built -> ("done", record); ("stop",) ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import multiprocessing as mp
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
import websockets
from websockets.asyncio.server import ServerConnection, serve

TRIGGER_CENTS = 2  # the bench strategy's default trigger price, 0.02
LEVEL_CENTS = tuple(range(30, 46))  # the other bids' prices: never crossing, never the trigger
LEVEL_SIZE, TRIGGER_SIZE = 10, 5
RESTING = 4  # bids (besides a trigger) a market keeps before the oldest is withdrawn
TICK, MIN_SIZE, LAST_TRADE = "0.01", "5", "0.500"  # the bench markets' (paper exchange defaults)
START_MARGIN_SECS = 0.5


def price_text(cents: int) -> str:
    """The venue's spelling of a price: no trailing zeros ("0.3", "0.02", "0.98")."""
    return f"{cents / 100:.2f}".rstrip("0")


def _levels(levels: list[tuple[str, str]]) -> str:
    return ",".join(f'{{"price":"{p}","size":"{s}"}}' for p, s in levels)


def book_hash(market: str, asset: str, timestamp: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    """shared.polymarket.book_hash's recipe, inlined for the build loop (a test checks they agree)."""
    text = (
        f'{{"market":"{market}","asset_id":"{asset}","timestamp":"{timestamp}","hash":"",'
        f'"bids":[{_levels(bids)}],"asks":[{_levels(asks)}],"min_order_size":"{MIN_SIZE}",'
        f'"tick_size":"{TICK}","neg_risk":false,"last_trade_price":"{LAST_TRADE}"}}'
    )
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class MarketBook:
    """One bench market: its YES bids (cents -> size); the NO book is their mirror as asks."""

    condition_id: str
    yes: str
    no: str
    bids: dict[int, int] = field(default_factory=dict)
    resting: deque[int] = field(default_factory=deque)
    trigger: bool = False
    lap: int = 0

    def wire(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(YES bids ascending, NO asks descending): wire order, best level last."""
        bids = [(price_text(c), str(self.bids[c])) for c in sorted(self.bids) if self.bids[c] > 0]
        asks = [(price_text(100 - c), str(self.bids[c])) for c in sorted(self.bids) if self.bids[c] > 0]
        return bids, asks

    def snapshot(self, timestamp: str) -> list[dict[str, Any]]:
        bids, asks = self.wire()
        out = []
        for asset, b, a in ((self.yes, bids, []), (self.no, [], asks)):
            out.append({
                "event_type": "book", "market": self.condition_id, "asset_id": asset, "timestamp": timestamp,
                "hash": book_hash(self.condition_id, asset, timestamp, b, a),
                "bids": [{"price": p, "size": s} for p, s in b], "asks": [{"price": p, "size": s} for p, s in a],
                "min_order_size": MIN_SIZE, "tick_size": TICK, "neg_risk": False, "last_trade_price": LAST_TRADE,
            })
        return out

    def change(self, cents: int, delta: int, timestamp: str) -> str:
        """Apply `delta` to the YES bid at `cents`; the price_change frame (YES entry, then its NO mirror)."""
        size = self.bids.get(cents, 0) + delta
        if size > 0:
            self.bids[cents] = size
        else:
            self.bids.pop(cents, None)
        bids, asks = self.wire()
        best_bid = price_text(max(self.bids)) if self.bids else "0"
        best_ask = price_text(100 - max(self.bids)) if self.bids else "1"
        yes_hash = book_hash(self.condition_id, self.yes, timestamp, bids, [])
        no_hash = book_hash(self.condition_id, self.no, timestamp, [], asks)
        return (
            f'{{"event_type":"price_change","market":"{self.condition_id}","timestamp":"{timestamp}",'
            f'"price_changes":[{{"asset_id":"{self.yes}","price":"{price_text(cents)}","size":"{max(size, 0)}",'
            f'"side":"BUY","hash":"{yes_hash}","best_bid":"{best_bid}","best_ask":"1"}},'
            f'{{"asset_id":"{self.no}","price":"{price_text(100 - cents)}","size":"{max(size, 0)}",'
            f'"side":"SELL","hash":"{no_hash}","best_bid":"0","best_ask":"{best_ask}"}}]}}'
        )


@dataclass(frozen=True)
class Frame:
    offset_ns: int  # from the run's start
    market: int  # index into the feed's markets
    data: str  # the frame's JSON text, sent as a text frame
    trigger_key: str | None  # "<condition id>|<timestamp ms>" for a trigger


def build_run(books: list[MarketBook], start_ms: int, rate: float, seconds: float, every: int) -> list[Frame]:
    """Every frame of one run, in send order: `rate * seconds` changes round robin over the markets (each lap
    one market further on, so triggers spread over all of them), then one frame per standing trigger."""
    total, n = int(rate * seconds), len(books)
    frames: list[Frame] = []
    offset_ns = 0
    for i in range(total):
        offset_ns = int(i * 1e9 / rate)
        book = books[(i + i // n) % n]
        timestamp = str(start_ms + offset_ns // 1_000_000)
        key = None
        if book.trigger:
            data, book.trigger = book.change(TRIGGER_CENTS, -TRIGGER_SIZE, timestamp), False
        elif i % every == every - 1:
            data, book.trigger = book.change(TRIGGER_CENTS, TRIGGER_SIZE, timestamp), True
            key = f"{book.condition_id}|{timestamp}"
        elif len(book.resting) >= RESTING:
            data = book.change(book.resting.popleft(), -LEVEL_SIZE, timestamp)
        else:
            cents = LEVEL_CENTS[book.lap % len(LEVEL_CENTS)]
            book.lap += 1
            book.resting.append(cents)
            data = book.change(cents, LEVEL_SIZE, timestamp)
        frames.append(Frame(offset_ns, (i + i // n) % n, data, key))
    end = str(start_ms + offset_ns // 1_000_000 + 1)
    for index, book in enumerate(books):
        if book.trigger:
            frames.append(Frame(offset_ns + 1_000_000, index, book.change(TRIGGER_CENTS, -TRIGGER_SIZE, end), None))
            book.trigger = False
    return frames


class FeedServer:
    """The WebSocket server and the sender; lives in the feed process."""

    def __init__(self, markets: list[dict[str, Any]]) -> None:
        self.books = [MarketBook(m["condition_id"], m["token_ids"][0], m["token_ids"][1]) for m in markets]
        self.by_asset: dict[str, int] = {}
        for index, book in enumerate(self.books):
            self.by_asset[book.yes] = self.by_asset[book.no] = index
        self.sockets: dict[int, set[ServerConnection]] = {}  # market index -> subscribed sockets

    async def handle(self, ws: ServerConnection) -> None:
        try:
            async for text in ws:
                if text == "PING":
                    await ws.send("PONG")
                    continue
                message = orjson.loads(text)
                if not isinstance(message, dict):
                    continue
                assets = [str(a) for a in message.get("assets_ids") or []]
                markets = sorted({self.by_asset[a] for a in assets if a in self.by_asset})
                if str(message.get("operation") or "").lower() == "unsubscribe":
                    for index in markets:
                        self.sockets.get(index, set()).discard(ws)
                    continue
                timestamp = str(time.time_ns() // 1_000_000)
                books = []
                for index in markets:
                    self.sockets.setdefault(index, set()).add(ws)
                    books += [b for b in self.books[index].snapshot(timestamp) if b["asset_id"] in assets]
                if books:
                    await ws.send(orjson.dumps(books).decode())
        except websockets.ConnectionClosed:
            pass
        finally:
            for subscribed in self.sockets.values():
                subscribed.discard(ws)

    async def send(self, frames: list[Frame], start_ns: int) -> dict[str, int]:
        """Send each frame at start + its offset, each as its own text frame (as the venue does)."""
        triggers: dict[str, int] = {}
        index, total = 0, len(frames)
        while index < total:
            now = time.time_ns()
            due_ns = now - start_ns
            if frames[index].offset_ns > due_ns:
                await asyncio.sleep(min(0.001, (frames[index].offset_ns - due_ns) / 1e9))
                continue
            batches: dict[ServerConnection, list[str]] = {}
            keys: list[str] = []
            while index < total and frames[index].offset_ns <= due_ns:
                frame = frames[index]
                for ws in self.sockets.get(frame.market, ()):
                    batches.setdefault(ws, []).append(frame.data)
                if frame.trigger_key is not None:
                    keys.append(frame.trigger_key)
                index += 1
            stamp = time.time_ns()
            for key in keys:
                triggers[key] = stamp
            for ws, items in batches.items():
                with contextlib.suppress(websockets.ConnectionClosed):
                    for item in items:
                        await ws.send(item)
            await asyncio.sleep(0)
        return triggers


def _serve(conn: Connection, markets: list[dict[str, Any]], port_out: Any) -> None:
    asyncio.run(_main(conn, markets, port_out))


async def _main(conn: Connection, markets: list[dict[str, Any]], port_out: Any) -> None:
    feed = FeedServer(markets)
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple] = asyncio.Queue()

    def reader() -> None:
        while True:
            try:
                command = conn.recv()
            except EOFError:
                command = ("stop",)
            loop.call_soon_threadsafe(commands.put_nowait, command)
            if command[0] == "stop":
                return

    threading.Thread(target=reader, daemon=True).start()
    async with serve(feed.handle, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port_out.put(server.sockets[0].getsockname()[1] if hasattr(server, "sockets") else 0)
        while True:
            command = await commands.get()
            if command[0] == "stop":
                return
            _, rate, seconds, every = command
            build_started = time.monotonic()
            # Built in a thread on copies of the books: the loop goes on answering PINGs (a 60 s run takes tens
            # of seconds to build on a loaded machine), and a resubscription meanwhile gets the books as sent.
            # The start is set after a sample build measured the cost of a frame here and now.
            sample = time.perf_counter()
            build_run(copy.deepcopy(feed.books), 0, rate, min(seconds, 2000 / rate), every)
            per_frame = (time.perf_counter() - sample) / min(rate * seconds, 2000)
            start_ns = time.time_ns() + int((per_frame * rate * seconds * 1.5 + START_MARGIN_SECS) * 1e9)
            books = copy.deepcopy(feed.books)
            frames = await asyncio.to_thread(build_run, books, start_ns // 1_000_000, rate, seconds, every)
            start_ns = max(start_ns, time.time_ns())  # a build that overran: sent from now, timestamps as built
            conn.send(("started", len(frames), time.monotonic() - build_started))
            triggers = await feed.send(frames, start_ns)
            ended = time.time_ns()
            feed.books = books  # the state the frames sent leave
            del frames
            conn.send(("done", {"trigger_ns": triggers, "started_ns": start_ns, "ended_ns": ended,
                                "changes": int(rate * seconds)}))


class Feed:
    """The feed process, seen from the bench: `url`, `run()`, and stopped on exit."""

    def __init__(self, markets: list[dict[str, Any]]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        port: Any = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(child, markets, port), daemon=True)
        self.process.start()
        self.url = f"ws://127.0.0.1:{port.get(timeout=60)}"

    def run(self, rate: float, seconds: float, trigger_every: int) -> dict[str, Any]:
        """One run: blocks until its last frame is sent; returns the trigger record and the achieved rate."""
        self._conn.send(("run", rate, seconds, trigger_every))
        kind, frames, build_secs = self._conn.recv()
        assert kind == "started"
        kind, record = self._conn.recv()
        assert kind == "done"
        elapsed = max(1, record["ended_ns"] - record["started_ns"]) / 1e9
        record.update(frames=frames, build_secs=build_secs, rate=record["changes"] / elapsed)
        return record

    def pid(self) -> int | None:
        return self.process.pid

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def iter_frames(frames: list[Frame]) -> Iterator[dict[str, Any]]:
    """Decoded frames (tests)."""
    for frame in frames:
        yield orjson.loads(frame.data)
