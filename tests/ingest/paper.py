"""Helpers for ingest tests against the paper exchange: admin calls, random order flow, and a market-channel
proxy that injects faults (disconnects, dropped and duplicated frames) between ingest and the exchange."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any, Self

import httpx
import websockets
from websockets.asyncio.server import ServerConnection, serve

from services.ingest.config import IngestSettings


def ingest_settings(**overrides: Any) -> IngestSettings:
    """Settings from arguments only (no environment or .env), as a test wants them."""
    return IngestSettings(_env_file=None, **overrides)


class PaperAdmin:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=10)

    async def create_market(self, **fields: Any) -> dict:
        fields.setdefault("question", "Will ingest converge?")
        response = await self.http.post("/_paper/markets", json=fields)
        response.raise_for_status()
        return response.json()

    async def house(self, token_id: str, side: str, price: str, size: str) -> dict:
        response = await self.http.post("/_paper/orders", json=[{"token_id": token_id, "side": side,
                                                                  "price": price, "size": size}])
        response.raise_for_status()
        return response.json()[0]

    async def cancel(self, order_ids: list[str]) -> None:
        (await self.http.post("/_paper/cancel", json={"order_ids": order_ids})).raise_for_status()

    async def book(self, token_id: str) -> dict:
        response = await self.http.get("/book", params={"token_id": token_id})
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


async def random_flow(admin: PaperAdmin, token: str, stop: asyncio.Event, *, seed: int = 7,
                      pause_secs: float = 0.02) -> int:
    """Resting orders, cancels and the odd crossing order on one token until `stop`; returns the count."""
    rng = random.Random(seed)
    resting: list[str] = []
    n = 0
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.25 and resting:
            await admin.cancel([resting.pop(rng.randrange(len(resting)))])
        else:
            side = rng.choice(["BUY", "SELL"])
            cents = rng.randint(40, 52) if side == "BUY" else rng.randint(48, 60)
            placed = await admin.house(token, side, f"0.{cents}", str(rng.randint(5, 40)))
            order_id = placed.get("orderID") or placed.get("id")
            if order_id and placed.get("status", "live").lower() == "live":
                resting.append(order_id)
        n += 1
        await asyncio.sleep(pause_secs)
    return n


class FaultyProxy:
    """A WebSocket proxy in front of the market channel. `drop_ratio` / `duplicate_ratio` apply to frames
    from the exchange; `disconnect()` closes every client socket (the client must reconnect)."""

    def __init__(self, upstream: str, *, seed: int = 11) -> None:
        self.upstream = upstream
        self.drop_ratio = self.duplicate_ratio = 0.0
        self.dropped = self.duplicated = self.forwarded = self.connections = 0
        self._rng = random.Random(seed)
        self._clients: set[ServerConnection] = set()
        self._server: Any = None

    @property
    def url(self) -> str:
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/ws/market"

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def clear(self) -> None:
        self.drop_ratio = self.duplicate_ratio = 0.0

    async def disconnect(self) -> None:
        for client in list(self._clients):
            await client.close()

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
        self._clients.add(client)
        try:
            async with websockets.connect(self.upstream, ping_interval=None, max_size=None) as upstream:
                down = asyncio.create_task(self._down(upstream, client))
                try:
                    async for message in client:
                        await upstream.send(message)
                finally:
                    down.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await down
        except (OSError, websockets.ConnectionClosed):
            pass
        finally:
            self._clients.discard(client)

    async def _down(self, upstream: Any, client: ServerConnection) -> None:
        async for message in upstream:
            is_control = message in ("PONG", b"PONG")
            if not is_control and self._rng.random() < self.drop_ratio:
                self.dropped += 1
                continue
            await client.send(message)
            self.forwarded += 1
            if not is_control and self._rng.random() < self.duplicate_ratio:
                self.duplicated += 1
                await client.send(message)
        await client.close()
