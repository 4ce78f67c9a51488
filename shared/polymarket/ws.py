"""Market-channel transport: subscribe frames, PING/PONG keep-alive, staleness, reconnect with backoff,
and assets sharded over several connections. Yields raw frames to a callback; knows nothing of books.

Per §4.4: text `PING` every 10 s; a socket with neither a frame nor a `PONG` for `stale_after_secs` is
declared stale, closed and replaced. A PONG only proves the socket is open, not that data flows: whether
market data is fresh is the consumer's judgement (ingest's freshness probes), which can `replace` a
connection that answers PINGs but delivers nothing. After any (re)connect the full subscription is sent again, so the
venue sends a fresh `book` snapshot of every asset; `on_connect` tells the consumer to expect them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from shared.retry import backoff_delay

log = logging.getLogger(__name__)

PING = "PING"
PONG = "PONG"

FrameHandler = Callable[[str | bytes], Awaitable[None]]
# Frames read while the previous ones were handled, in arrival order: one call for all of them, so a handler
# that publishes does one round trip per batch instead of one per frame (the socket is read meanwhile).
FramesHandler = Callable[[list[str | bytes]], Awaitable[None]]
# Read ahead of the handler at most this much; then the socket waits (TCP backpressure). In bytes: a venue
# held back sends bigger frames (a 10k/s feed's arrays grew to ~0.6 MB), and 2,000 frames queued took 1.3 GB.
QUEUED_BYTES_MAX = 16 * 1024 * 1024
CALL_BYTES_MAX = 2 * 1024 * 1024  # frames handed over in one call
# Starts a connection's read loop as a named long-running task. A service passes its runtime's
# (ServiceContext.task), so a loop that dies takes the service down with health red instead of leaving a
# socket nobody reads; the default is a plain asyncio task.
Spawn = Callable[[str, Callable[[], Awaitable[None]]], object]
ConnectHandler = Callable[[tuple[str, ...]], Awaitable[None]]  # the assets (re)subscribed
DisconnectHandler = Callable[[str], Awaitable[None]]  # the reason


def subscribe_frame(assets: Iterable[str], *, custom_features: bool = True, initial: bool = True) -> str:
    """The first frame of a connection (initial=True) or an added-assets frame on a live one."""
    ids = list(assets)
    if initial:
        body = {"type": "market", "assets_ids": ids, "custom_feature_enabled": custom_features}
    else:
        body = {"operation": "subscribe", "assets_ids": ids, "custom_feature_enabled": custom_features}
    return json.dumps(body, separators=(",", ":"))


def unsubscribe_frame(assets: Iterable[str]) -> str:
    return json.dumps({"operation": "unsubscribe", "assets_ids": list(assets)}, separators=(",", ":"))


@dataclass
class WsOptions:
    ping_interval_secs: float = 10.0
    stale_after_secs: float = 30.0
    backoff_base_secs: float = 0.5
    backoff_max_secs: float = 30.0
    open_timeout_secs: float = 10.0
    custom_features: bool = True
    max_frame_bytes: int = 64 * 1024 * 1024


@dataclass
class ConnectionStats:
    connects: int = 0
    reconnects: int = 0
    stale: int = 0
    frames: int = 0
    pongs: int = 0
    last_frame_at: float = 0.0
    connected: bool = False
    last_error: str = ""


class MarketConnection:
    """One market-channel socket for a set of assets, kept alive until `close()`."""

    def __init__(
        self,
        name: str,
        url: str,
        on_frame: FrameHandler,
        *,
        options: WsOptions | None = None,
        on_connect: ConnectHandler | None = None,
        on_disconnect: DisconnectHandler | None = None,
        on_frames: FramesHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.url = name, url
        self._on_frames = on_frames
        self.options = options or WsOptions()
        self.assets: dict[str, None] = {}  # ordered set
        self.stats = ConnectionStats()
        self._on_frame, self._on_connect, self._on_disconnect = on_frame, on_connect, on_disconnect
        self._clock = clock
        self._ws: websockets.ClientConnection | None = None
        self._closing = asyncio.Event()
        self._started = False
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lived = self._went_stale = False
        self._drop_reason: str | None = None
        self._queued_bytes = 0  # frames read, not yet handed to on_frames
        self._drained = asyncio.Event()

    # ---- subscriptions ---------------------------------------------------------------------------
    async def add(self, assets: Iterable[str]) -> None:
        new = [a for a in assets if a not in self.assets]
        self.assets.update(dict.fromkeys(new))
        if new and self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(
                    subscribe_frame(new, custom_features=self.options.custom_features, initial=False)
                )

    async def remove(self, assets: Iterable[str]) -> None:
        gone = [a for a in assets if a in self.assets]
        for asset in gone:
            del self.assets[asset]
        if gone and self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(unsubscribe_frame(gone))

    # ---- life ------------------------------------------------------------------------------------
    def start(self, spawn: Spawn | None = None) -> None:
        """Run the read loop as a task: `spawn(name, run)` when given, else a plain asyncio task."""
        self._started = True
        if spawn is None:
            self._task = asyncio.create_task(self._run_once(), name=f"ws:{self.name}")
        else:
            spawn(f"ws:{self.name}", self._run_once)

    async def _run_once(self) -> None:
        try:
            await self.run()
        finally:
            self._finished.set()

    async def close(self) -> None:
        """Stop reading and wait for the read loop to end."""
        self._closing.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:  # our own task: its failure surfaces here
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        elif self._started:
            await self._finished.wait()

    async def reconnect(self, reason: str = "requested") -> None:
        """Drop the current socket; the run loop connects again (and resubscribes)."""
        if self._ws is not None:
            log.info("ws %s: closing socket (%s)", self.name, reason)
            self._drop_reason = reason
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def run(self) -> None:
        """Connect, subscribe, read; on any failure wait a jittered backoff and do it again."""
        attempt = 0
        while not self._closing.is_set():
            reason = "closed"
            healthy = False
            try:
                async with websockets.connect(
                    self.url,
                    open_timeout=self.options.open_timeout_secs,
                    ping_interval=None,
                    max_size=self.options.max_frame_bytes,
                    close_timeout=2,
                ) as ws:
                    self._ws = ws
                    healthy = await self._session(ws)
                    reason = "stale" if not healthy else self._drop_reason or "closed by peer"
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as error:
                reason = f"{type(error).__name__}: {error}"
            finally:
                self._ws = None
                if self.stats.connected:
                    self.stats.connected = False
            if self._closing.is_set():
                return
            self.stats.last_error = reason
            self.stats.reconnects += 1
            if self._on_disconnect is not None:
                await self._on_disconnect(reason)
            # A connection that delivered frames resets the backoff; a failing one backs off further.
            attempt = 1 if self.stats.frames and self._lived else attempt + 1
            delay = backoff_delay(
                attempt, base_secs=self.options.backoff_base_secs, max_secs=self.options.backoff_max_secs
            )
            log.warning("ws %s: disconnected (%s); reconnecting in %.2fs", self.name, reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)

    async def _session(self, ws: websockets.ClientConnection) -> bool:
        """One connected socket; returns False when it went stale, True when it closed otherwise."""
        self._lived = self._went_stale = False
        self._drop_reason = None
        assets = tuple(self.assets)
        self.stats.connects += 1
        self.stats.connected = True
        now = self._clock()
        self.stats.last_frame_at = now
        last_heard = [now]
        if assets:
            await ws.send(subscribe_frame(assets, custom_features=self.options.custom_features))
        if self._on_connect is not None:
            await self._on_connect(assets)
        pinger = asyncio.create_task(self._ping_loop(ws, last_heard), name=f"ws-ping:{self.name}")
        queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._drained = asyncio.Event()
        handler = (
            asyncio.create_task(self._handle_batches(queue), name=f"ws-frames:{self.name}")
            if self._on_frames is not None
            else None
        )
        try:
            async for frame in ws:
                last_heard[0] = self._clock()
                if frame == PONG or frame == b"PONG":
                    self.stats.pongs += 1
                    continue
                self._lived = True
                self.stats.frames += 1
                self.stats.last_frame_at = last_heard[0]
                if handler is None:
                    await self._on_frame(frame)
                elif handler.done():
                    break  # the handler failed: its error is raised below
                else:
                    while self._queued_bytes > QUEUED_BYTES_MAX and not handler.done():
                        self._drained.clear()
                        await self._drained.wait()
                    self._queued_bytes += len(frame)
                    queue.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            if handler is not None:
                if not handler.done():
                    await queue.put(None)  # the frames read so far are handled before the session ends
                await handler  # raises what the handler raised
        return not self._went_stale

    async def _handle_batches(self, queue: asyncio.Queue[str | bytes | None]) -> None:
        """Hand the frames read so far to on_frames, in order, until the session's end marker."""
        assert self._on_frames is not None
        while True:
            frames: list[str | bytes] = []
            size = 0
            item = await queue.get()
            while item is not None:
                frames.append(item)
                size += len(item)
                if queue.empty() or size >= CALL_BYTES_MAX:
                    break
                item = queue.get_nowait()
            self._queued_bytes -= size
            self._drained.set()
            if frames:
                await self._on_frames(frames)
            if item is None:
                return

    async def _ping_loop(self, ws: websockets.ClientConnection, last_heard: list[float]) -> None:
        interval, stale_after = self.options.ping_interval_secs, self.options.stale_after_secs
        step = min(interval, stale_after / 3)
        next_ping = self._clock()
        while True:
            now = self._clock()
            if now - last_heard[0] > stale_after:
                self.stats.stale += 1
                log.warning(
                    "ws %s: no frame or PONG for %.1fs: stale, replacing", self.name, now - last_heard[0]
                )
                self._went_stale = True
                await ws.close()
                return
            if now >= next_ping:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(PING)
                next_ping = now + interval
            await asyncio.sleep(step)


@dataclass
class MarketFeed:
    """Assets spread over connections of at most `max_assets` each; connections made on demand."""

    url: str
    on_frame: FrameHandler
    max_assets: int = 200
    options: WsOptions = field(default_factory=WsOptions)
    on_connect: ConnectHandler | None = None
    on_disconnect: DisconnectHandler | None = None
    on_frames: FramesHandler | None = None  # when set, frames are handed over in batches (see FramesHandler)
    spawn: Spawn | None = None  # how connection loops are started (see Spawn)
    connections: list[MarketConnection] = field(default_factory=list)

    @property
    def assets(self) -> set[str]:
        return {a for c in self.connections for a in c.assets}

    async def set_assets(self, wanted: Iterable[str]) -> tuple[list[str], list[str]]:
        """Subscribe to exactly `wanted`: returns (added, removed)."""
        wanted_set = dict.fromkeys(wanted)
        removed: list[str] = []
        for conn in self.connections:
            gone = [a for a in conn.assets if a not in wanted_set]
            if gone:
                await conn.remove(gone)
                removed += gone
        have = self.assets
        added = [a for a in wanted_set if a not in have]
        todo = list(added)
        for conn in self.connections:
            room = self.max_assets - len(conn.assets)
            if room > 0 and todo:
                await conn.add(todo[:room])
                todo = todo[room:]
        while todo:
            conn = MarketConnection(
                f"market-{len(self.connections)}",
                self.url,
                self.on_frame,
                options=self.options,
                on_connect=self.on_connect,
                on_disconnect=self.on_disconnect,
                on_frames=self.on_frames,
            )
            await conn.add(todo[: self.max_assets])
            todo = todo[self.max_assets :]
            self.connections.append(conn)
            conn.start(self.spawn)
        return added, removed

    def connection_of(self, asset: str) -> MarketConnection | None:
        return next((c for c in self.connections if asset in c.assets), None)

    def peers_of(self, asset: str) -> tuple[str, ...]:
        """The assets on the same connection as `asset` (itself included)."""
        conn = self.connection_of(asset)
        return tuple(conn.assets) if conn is not None else (asset,)

    async def replace_connection_of(self, asset: str, reason: str = "frozen_feed") -> None:
        """Close the socket carrying `asset`; its run loop connects again and resubscribes (fresh books)."""
        conn = self.connection_of(asset)
        if conn is not None:
            await conn.reconnect(reason)

    async def reconnect_all(self, reason: str) -> None:
        for conn in self.connections:
            await conn.reconnect(reason)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)

    def status(self) -> dict[str, object]:
        return {
            "connections": len(self.connections),
            "connected": sum(c.stats.connected for c in self.connections),
            "assets": sum(len(c.assets) for c in self.connections),
            "reconnects": sum(c.stats.reconnects for c in self.connections),
            "stale": sum(c.stats.stale for c in self.connections),
        }
