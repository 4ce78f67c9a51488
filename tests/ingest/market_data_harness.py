"""Ingest's feed against the paper exchange, wired as the service wires it (freshness probes, connection
replacement), for the market-data tests and the bench: a market with house liquidity, an optional
stream of house orders (an active market), and the book statuses published on events:<shard>."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from paperexchange.server import PaperExchangeServer
from services.ingest.book_messages import same_levels as _same_levels
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from services.risk.config import RiskSettings
from services.risk.decisions import Decider
from services.risk.handling import Effects
from services.risk.state import RiskState
from services.risk.tracking import Tracker
from shared.messages import (
    BookSnapshot,
    BookState,
    BookStatus,
    Envelope,
    MarketInfo,
    OrderIntent,
    Side,
    TokenInfo,
)
from shared.polymarket.schemas import decode_rest_book
from shared.polymarket.ws import MarketFeed, WsOptions
from shared.streams import Bus, events_stream
from tests.ingest.paper import PaperAdmin, ingest_settings, random_flow


@dataclass
class Harness:
    server: PaperExchangeServer
    admin: PaperAdmin
    feed: Feed
    ws: MarketFeed
    bus: Bus
    tokens: list[str]
    flow_stop: asyncio.Event = field(default_factory=asyncio.Event)
    flow: asyncio.Task | None = None

    async def fault(self, kind: str, body: dict) -> dict:
        response = await self.admin.http.post(f"/_paper/faults/{kind}", json=body)
        response.raise_for_status()
        return response.json()

    def start_flow(self, seed: int = 7, pause_secs: float = 0.02) -> None:
        self.flow_stop.clear()
        self.flow = asyncio.create_task(random_flow(self.admin, self.tokens[0], self.flow_stop, seed=seed,
                                                    pause_secs=pause_secs))

    async def stop_flow(self) -> None:
        self.flow_stop.set()
        if self.flow is not None:
            await self.flow

    async def converged(self) -> bool:
        """Every book synced, equal to the exchange's GET /book, and VALID as last published on the bus."""
        for token in self.tokens:
            book = self.feed.books.books[token]
            if not book.synced or self.feed.states.state(token) is not BookState.VALID:
                return False
            if not _same_levels(book, decode_rest_book(await self.admin.book(token))):
                return False
        last = {s.token_id: s.state for s in await self.statuses()}
        return all(last.get(token) is BookState.VALID for token in self.tokens)

    async def statuses(self) -> list[BookStatus]:
        entries = await self.bus.history(events_stream("main"), count=100_000)
        return [m for _, m in entries if isinstance(m, BookStatus)]

    async def history(self) -> list[object]:
        return [m for _, m in await self.bus.history(events_stream("main"), count=100_000)]

    def reconnects(self) -> int:
        return sum(c.stats.reconnects for c in self.ws.connections)


@contextlib.asynccontextmanager
async def market_data(bus: Bus, ws_options: WsOptions | None = None, **settings: object) -> AsyncIterator[Harness]:
    """A running feed on one paper market (two tokens, one connection) with house liquidity; quick
    reconnects and a 1 s freshness floor unless given."""
    async with PaperExchangeServer(admin=True) as server:
        admin = PaperAdmin(server.url)
        created = await admin.create_market()
        info = MarketInfo(condition_id=created["condition_id"], question="q", slug="t", min_order_size=5,
                          tick_size=created.get("minimum_tick_size", "0.01"),
                          tokens=tuple(TokenInfo(token_id=t, outcome=o)
                                       for t, o in zip(created["token_ids"], ("Yes", "No"))))
        tokens = [t.token_id for t in info.tokens]
        for cents in (45, 46, 47):
            await admin.house(tokens[0], "BUY", f"0.{cents}", "20")
            await admin.house(tokens[0], "SELL", f"0.{cents + 8}", "20")
        options = {"resync_min_interval_secs": 0.2, "book_snapshot_timeout_secs": 1.0,
                   "freshness_floor_secs": 1.0, **settings}
        http = httpx.AsyncClient(timeout=5)
        feed = Feed(ingest_settings(clob_url=server.url, **options), bus, ShardMap(("main",), {}), http=http)
        ws = MarketFeed(server.ws_url + "/ws/market", feed.on_frame, max_assets=10,
                        options=ws_options or WsOptions(ping_interval_secs=0.5, stale_after_secs=3,
                                                                        backoff_base_secs=0.05, backoff_max_secs=0.2),
                        on_connect=feed.on_connect, on_disconnect=feed.on_disconnect)
        feed.connection_peers, feed.on_frozen = ws.peers_of, ws.replace_connection_of  # as the service does
        stop = asyncio.Event()

        async def maintain() -> None:
            while not stop.is_set():
                feed.maintain()
                await asyncio.sleep(0.05)

        maintainer = asyncio.create_task(maintain())
        harness = Harness(server, admin, feed, ws, bus, tokens)
        try:
            feed.track_market(info)
            await ws.set_assets(tokens)
            yield harness
        finally:
            harness.flow_stop.set()
            if harness.flow is not None:
                with contextlib.suppress(Exception):
                    await harness.flow
            stop.set()
            await maintainer
            await ws.close()
            await feed.close()
            await http.aclose()
            await admin.aclose()


def orders_only_on_valid_books(messages: list[object], state_dir) -> int:
    """Replay ingest's events through risk (its tracker and decider, real SQLite) and, after every book
    status and snapshot, ask risk to approve a small BUY on that token: approved exactly when the book was
    reported VALID. Returns how many intents were rejected as BOOK_NOT_VALID (AssertionError otherwise)."""
    settings = RiskSettings(_env_file=None, dry_run=False, state_dir=state_dir, min_liquidity_usd=Decimal(0),
                            max_per_market_notional_usd=Decimal(10**9), max_trade_size_usd=Decimal(10**6),
                            dedup_window_secs=0, min_time_to_resolution_secs={"default": 0})
    state = RiskState(state_dir / "risk-replay.sqlite")
    tracker, decider = Tracker(settings, state), Decider(settings, state)
    rejected = 0
    try:
        for message in messages:
            with state.transaction():
                tracker.on_market_event(message, Effects())
            if not isinstance(message, BookStatus | BookSnapshot):
                continue
            market = message.market
            if state.market(market) is None:
                info = MarketInfo(condition_id=market, question="q", slug="s", tick_size=Decimal("0.01"),
                                  min_order_size=Decimal(5), end_date_ts=4_000_000_000,
                                  volume_24h_usd=Decimal(10**6),
                                  tokens=(TokenInfo(token_id=message.token_id, outcome="Yes"),))
                state.upsert_market(info)
            valid = state.book_status(message.token_id).state == "valid"
            intent = OrderIntent(envelope=Envelope.new("strategy"), token_id=message.token_id, side=Side.BUY,
                                 size=Decimal(5), price=Decimal("0.10"), reason="probe", strategy="test",
                                 signal_key=f"probe:{message.envelope.message_id}", market=market)
            with state.transaction():
                decision = decider.decide(intent, Effects())
            if decision.approved != valid:
                raise AssertionError(f"risk {'approved' if decision.approved else 'rejected'} an order on a "
                                     f"book reported {state.book_status(message.token_id)}: {decision}")
            rejected += decision.rule == "BOOK_NOT_VALID"
    finally:
        state.close()
    return rejected
