"""Frames read while earlier ones are handled reach on_frames together, in order, none lost (issue 19: one
publish per frame made ingest's Redis round trip the ceiling of its throughput)."""

from __future__ import annotations

import asyncio

import orjson
from websockets.asyncio.server import serve

from shared.polymarket.ws import MarketConnection
from tests.helpers import eventually


async def test_frames_arriving_during_a_slow_handler_come_in_batches_in_order() -> None:
    total = 300

    async def venue(ws) -> None:
        await ws.recv()  # the subscription
        for i in range(total):
            await ws.send(orjson.dumps([{"event_type": "price_change", "n": i}]).decode())
        await ws.wait_closed()

    calls: list[list[int]] = []

    async def on_frames(frames) -> None:
        calls.append([orjson.loads(f)[0]["n"] for f in frames])
        await asyncio.sleep(0.01)  # a publish's round trip: the socket is read meanwhile

    async def on_frame(frame) -> None:
        raise AssertionError("frames go to on_frames when it is given")

    async with serve(venue, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = MarketConnection("t", f"ws://127.0.0.1:{port}", on_frame, on_frames=on_frames)
        await conn.add(["1"])
        conn.start()
        try:
            await eventually(lambda: sum(len(c) for c in calls) >= total, timeout=20)
        finally:
            await conn.close()
    assert [n for call in calls for n in call] == list(range(total))
    assert len(calls) < total / 3, [len(c) for c in calls]  # batched, not one call per frame
