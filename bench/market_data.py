"""Market-data freshness benchmark against the paper exchange (ingest's feed wired as the service wires it,
real Redis): how long trading stays on a bad book.

Runs with the service's default settings (freshness floor 2 s, cadence factor 5, reconnect backoff 0.5 s).

- Silent freeze: an active market (house orders every ~20 ms); the socket goes silent (`ws_silent`: PINGs
  still answered). Measured from the fault to the first STALE BookStatus on the bus (trading halted: risk
  and strategy stop on it), to every book VALID again (rebuilt from the probe's REST /book), and to every
  book VALID from the new connection's snapshots (connection replaced).
- Gap: one price_change is dropped (`drop_next`), the next order's price_change follows at once. Measured
  from the dropped event's order to the GAP BookStatus (halted) and to VALID again (REST resync).

Needs the repo checkout (it reuses tests/ingest's paper harness) and Redis at POLYDESK_TEST_REDIS_URL or
127.0.0.1:6379. Run: python -m bench.market_data [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import redis.asyncio as aioredis

from shared.messages import BookState
from shared.polymarket.ws import WsOptions
from shared.streams import Bus
from tests.helpers import eventually
from tests.ingest.market_data_harness import Harness, market_data


async def _first(md: Harness, since_ns: int, state: BookState, tokens: int = 1, reason: str | None = None) -> int:
    """created_ts_ns of the moment `tokens` tokens have had `state` (with `reason`) reported after since_ns."""
    async def check() -> int | None:
        seen: dict[str, int] = {}
        for status in await md.statuses():
            if (status.state is state and status.envelope.created_ts_ns >= since_ns
                    and (reason is None or status.reason == reason)):
                seen.setdefault(status.token_id, status.envelope.created_ts_ns)
        return max(seen.values()) if len(seen) >= tokens else None

    return await eventually(check, timeout=30, interval=0.01)


# The service's defaults (IngestSettings): 2 s freshness floor, PING every 10 s, reconnect backoff from 0.5 s.
DEFAULTS = {"freshness_floor_secs": 2.0, "ws_options": WsOptions()}


async def silent_freeze(bus: Bus) -> tuple[float, float, float]:
    async with market_data(bus, **DEFAULTS) as md:
        await eventually(md.converged, timeout=15)
        md.start_flow()
        await asyncio.sleep(3.0)  # the tokens learn their cadence
        start = time.time_ns()
        await md.fault("ws_silent", {})
        halted = await _first(md, start, BookState.STALE)
        valid = await _first(md, halted, BookState.VALID, tokens=len(md.tokens))
        reconnected = await _first(md, halted, BookState.RESYNCING, tokens=len(md.tokens), reason="reconnect")
        replaced = await _first(md, reconnected, BookState.VALID, tokens=len(md.tokens))
        await md.stop_flow()
        return (halted - start) / 1e9, (valid - start) / 1e9, (replaced - start) / 1e9


async def gap(bus: Bus) -> tuple[float, float]:
    async with market_data(bus, ws_options=WsOptions()) as md:
        await eventually(md.converged, timeout=15)
        await md.fault("ws", {"channel": "market", "drop_next": 1})
        start = time.time_ns()
        await md.admin.house(md.tokens[0], "BUY", "0.31", "10")  # dropped
        await md.admin.house(md.tokens[0], "BUY", "0.32", "10")  # shows the gap
        halted = await _first(md, start, BookState.GAP)
        valid = await _first(md, halted, BookState.VALID, tokens=len(md.tokens))
        return (halted - start) / 1e9, (valid - start) / 1e9


def _row(name: str, samples: list[tuple[float, ...]], goal: str) -> str:
    cells = []
    for column in range(3):
        values = [s[column] for s in samples if len(s) > column]
        cells.append(f"{statistics.median(values):.2f} / {max(values):.2f}" if values else "-")
    return f"| {name} | {' | '.join(cells)} | {goal} |"


async def main(runs: int) -> None:
    url = os.environ.get("POLYDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis = aioredis.from_url(url)
    prefix = f"bench-md-{uuid.uuid4().hex[:8]}:"
    bus = Bus(redis, prefix=prefix)
    try:
        freezes = [await silent_freeze(bus) for _ in range(runs)]
        gaps = [await gap(bus) for _ in range(runs)]
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    print(f"{runs} runs each; seconds, median / max")
    print("| event | to trading halted | to valid again (REST resync) | to connection replaced (new snapshots) "
          "| goal |")
    print("|---|---|---|---|---|")
    print(_row("silent freeze (active market)", freezes, "halted within 10 s"))
    print(_row("gap (dropped price_change)", gaps, "halted within 2 s"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
