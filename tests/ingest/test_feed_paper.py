"""The feed against the paper exchange through a faulty proxy: after disconnects and dropped and
duplicated frames, every book equals the exchange's GET /book within 2 s of the fault ending, and the
events stream carries fresh snapshots (new epochs) for the rebuilt books."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from services.ingest.book_messages import same_levels as _same_levels
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from shared.messages import BookDelta, BookSnapshot, MarketInfo, TokenInfo
from shared.polymarket.schemas import decode_rest_book
from shared.polymarket.ws import MarketFeed, WsOptions
from shared.streams import events_stream
from tests.helpers import eventually
from tests.ingest.paper import FaultyProxy, PaperAdmin, ingest_settings, random_flow

pytestmark = pytest.mark.integration


def market_info(created: dict) -> MarketInfo:
    return MarketInfo(condition_id=created["condition_id"], question=created.get("question", ""), slug="t",
                      tokens=tuple(TokenInfo(token_id=t, outcome=o) for t, o in zip(created["token_ids"],
                                                                                   ("Yes", "No"))),
                      tick_size=created.get("minimum_tick_size", "0.01"), min_order_size=5)


async def converged(feed: Feed, admin: PaperAdmin, tokens: list[str]) -> bool:
    for token in tokens:
        book = feed.books.books[token]
        if not book.synced or not _same_levels(book, decode_rest_book(await admin.book(token))):
            return False
    return True


async def test_books_converge_after_disconnects_drops_and_duplicates(bus):
    async with PaperExchangeServer(admin=True) as server, FaultyProxy(server.ws_url + "/ws/market") as proxy:
        admin = PaperAdmin(server.url)
        created = await admin.create_market()
        info = market_info(created)
        tokens = [t.token_id for t in info.tokens]
        for cents in (45, 46, 47):
            await admin.house(tokens[0], "BUY", f"0.{cents}", "20")
            await admin.house(tokens[0], "SELL", f"0.{cents + 8}", "20")
        settings = ingest_settings(clob_url=server.url, market_ws_url=proxy.url, resync_min_interval_secs=0.2,
                                   book_stale_after_secs=0.6, book_snapshot_timeout_secs=1.0)
        http = httpx.AsyncClient(timeout=5)
        feed = Feed(settings, bus, ShardMap(("main",), {}), http=http)
        ws = MarketFeed(proxy.url, feed.on_frame, max_assets=1,  # two connections: one per token
                        options=WsOptions(ping_interval_secs=0.5, stale_after_secs=3, backoff_base_secs=0.1,
                                          backoff_max_secs=0.5),
                        on_connect=feed.on_connect, on_disconnect=feed.on_disconnect)
        maintain_stop = asyncio.Event()

        async def maintain() -> None:
            while not maintain_stop.is_set():
                feed.maintain()
                await asyncio.sleep(0.1)

        maintainer = asyncio.create_task(maintain())
        try:
            feed.track_market(info)
            await ws.set_assets(tokens)
            assert len(ws.connections) == 2
            await eventually(lambda: converged(feed, admin, tokens), timeout=15)

            flow_stop = asyncio.Event()
            flow = asyncio.create_task(random_flow(admin, tokens[0], flow_stop))
            await asyncio.sleep(0.5)
            proxy.drop_ratio, proxy.duplicate_ratio = 0.3, 0.3
            await asyncio.sleep(2.0)
            await proxy.disconnect()
            await asyncio.sleep(0.3)
            await proxy.disconnect()  # again, while the clients may be reconnecting
            await asyncio.sleep(1.0)
            flow_stop.set()
            await flow
            proxy.clear()
            fault_end = time.monotonic()
            await eventually(lambda: converged(feed, admin, tokens), timeout=15, interval=0.02)
            elapsed = time.monotonic() - fault_end
            assert elapsed <= 2.0, f"converged {elapsed:.2f}s after the fault ended"
            assert proxy.dropped > 0 and proxy.duplicated > 0 and proxy.connections >= 6
            assert sum(c.stats.reconnects for c in ws.connections) >= 2

            entries = await bus.history(events_stream("main"), count=100_000)
            messages = [m for _, m in entries]
            snapshots = [m for m in messages if isinstance(m, BookSnapshot)]
            assert {s.token_id for s in snapshots if s.epoch >= 2} == set(tokens)  # rebuilt after reconnect
            assert any(isinstance(m, BookDelta) for m in messages)
        finally:
            maintain_stop.set()
            await maintainer
            await ws.close()
            await feed.close()
            await http.aclose()
            await admin.aclose()
