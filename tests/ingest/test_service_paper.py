"""The ingest service end to end against the paper exchange (Gamma, market channel, REST, Data API):
a selected market is discovered and its books snapshotted onto events:<shard>; a watched wallet's trade
yields exactly one trade_seen event, also across a restart of the service."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from services.ingest.service import build_main
from shared.lifecycle import run_service
from shared.messages import BookSnapshot, MarketDiscovered, TradeSeen
from shared.streams import events_stream
from tests.helpers import eventually
from tests.ingest.paper import ingest_settings

pytestmark = pytest.mark.integration

paper_helpers = pytest.importorskip("tests.paperexchange.helpers")


def _paper_has(url: str, path: str) -> bool:
    try:
        return httpx.get(url + path, timeout=5).status_code < 400
    except httpx.HTTPError:
        return False


async def _history(bus, shard: str = "main") -> list:
    return [m for _, m in await bus.history(events_stream(shard), count=100_000)]


async def test_discovery_books_and_exactly_one_trade_seen_across_a_restart(bus, redis_url, prefix, tmp_path):
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.1) as server:
        if not (_paper_has(server.url, "/gamma/markets") and _paper_has(server.url, "/data-api/trades?user=0x0")):
            pytest.skip("the paper exchange serves no Gamma / Data API yet")
        admin = paper_helpers.Admin(server.url)
        market = admin.create_market()
        yes = market["token_ids"][0]
        leader = paper_helpers.Trader(server.url, admin)
        admin.house(yes, "SELL", "0.55", "100")
        wallet = leader.address.lower()
        settings = ingest_settings(
            redis_url=redis_url, stream_prefix=prefix, log_dir=tmp_path / "logs", state_dir=tmp_path / "state",
            instance="t1", clob_url=server.url, market_ws_url=server.ws_url + "/ws/market",
            gamma_url=server.url + "/gamma", data_api_url=server.url + "/data-api",
            discovery_condition_ids=(market["condition_id"],), discovery_refresh_secs=1,
            watched_wallets=(wallet,), wallet_poll_secs=0.3)

        async def run_once(until) -> None:
            task = asyncio.create_task(run_service("ingest", settings, build_main(settings), serve_metrics=False))
            try:
                await eventually(until, timeout=20)
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # run_service's own handler: a clean stop
                assert await asyncio.wait_for(task, 30) == 0

        async def polled_twice() -> bool:
            raw = await bus.redis.get(f"{prefix}health:ingest:t1")
            return raw is not None and json.loads(raw).get("wallets", {}).get("polls", 0) >= 2

        async def discovered_and_snapshotted() -> bool:
            messages = await _history(bus)
            return (any(isinstance(m, MarketDiscovered) and m.market.condition_id == market["condition_id"]
                        for m in messages)
                    and {m.token_id for m in messages if isinstance(m, BookSnapshot)} == set(market["token_ids"]))

        await run_once(discovered_and_snapshotted)

        posted = await asyncio.to_thread(leader.post, "/order", leader.signed_order(yes, "BUY", 0.55, 10))
        assert posted.status_code == 200, posted.text

        async def one_trade_seen() -> list:
            return [m for m in await _history(bus) if isinstance(m, TradeSeen)]

        await run_once(one_trade_seen)
        await run_once(polled_twice)  # a restart: the wallet is polled again from scratch
        seen = await one_trade_seen()
        assert len(seen) == 1, seen
        assert seen[0].wallet == wallet and seen[0].token_id == yes and seen[0].side == "BUY"
