"""The ingest service: discovery, the market channel and its books, watched wallets and chain reads, each a
task under run_service, all publishing to events:<shard>. It makes no trading decisions."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from services.ingest.accounts import AccountReader
from services.ingest.config import IngestSettings
from services.ingest.discovery import Discovery, RefreshResult
from services.ingest.feed import Feed
from services.ingest.shards import ShardMap
from services.ingest.wallets import WalletWatcher
from shared import metrics
from shared.lifecycle import ServiceContext, ServiceMain
from shared.messages import Envelope, MarketDiscovered, MarketResolved, MarketUpdated, deterministic_id
from shared.polymarket import parse
from shared.polymarket.chain import ChainReader
from shared.polymarket.data_api import DataApiClient
from shared.polymarket.gamma import GammaClient
from shared.polymarket.schemas import MarketResolvedMessage, NewMarketMessage
from shared.polymarket.ws import MarketFeed, WsOptions
from shared.streams import Output, events_stream

log = logging.getLogger(__name__)

MAINTAIN_EVERY_SECS = 0.25


class Ingest:
    """The objects of one ingest process and the loops that drive them."""

    def __init__(self, settings: IngestSettings, ctx: ServiceContext) -> None:
        self.settings, self.ctx = settings, ctx
        producer = ctx.service
        self.producer = producer
        self.shards = ShardMap(settings.shards, settings.market_sets)
        self.http = httpx.AsyncClient(timeout=settings.http_timeout_secs)
        self.gamma = GammaClient(settings.gamma_url, timeout_secs=settings.http_timeout_secs)
        self.discovery = Discovery(settings, self.gamma)
        self.feed = Feed(
            settings,
            ctx.bus,
            self.shards,
            http=self.http,
            producer=producer,
            market_hook=self.on_market_event,
        )
        self.ws = MarketFeed(
            settings.market_ws_url,
            self.feed.on_frame,
            max_assets=settings.ws_max_assets_per_connection,
            options=WsOptions(
                ping_interval_secs=settings.ws_ping_interval_secs,
                stale_after_secs=settings.ws_stale_after_secs,
                backoff_base_secs=settings.ws_backoff_base_secs,
                backoff_max_secs=settings.ws_backoff_max_secs,
            ),
            on_connect=self.feed.on_connect,
            on_disconnect=self.feed.on_disconnect,
            on_frames=self.feed.on_frames,
            # Each socket's read loop is a runtime task: one that dies stops ingest with health red.
            spawn=lambda name, run: ctx.task(f"ingest:{name}", run),
        )
        self.feed.connection_peers = self.ws.peers_of
        self.feed.on_frozen = self.ws.replace_connection_of
        self.data_api = DataApiClient(settings.data_api_url, timeout_secs=settings.http_timeout_secs)
        self.wallets = WalletWatcher(
            ctx.bus,
            self.data_api,
            settings.watched_wallets,
            shard_of=self.shards.shard_of,
            overlap_secs=settings.wallet_overlap_secs,
            page_size=settings.wallet_page_size,
            producer=producer,
        )
        self.accounts: AccountReader | None = None
        if settings.rpc_url and settings.account_wallet:
            self.accounts = AccountReader(
                ctx.bus,
                ChainReader(settings.rpc_url, timeout_secs=settings.http_timeout_secs),
                settings.account_wallet,
                settings.shards,
                producer=producer,
                tokens=lambda: [t.token_id for m in self.discovery.markets.values() for t in m.tokens],
            )
        self._subscribe_lock = asyncio.Lock()
        self._refresh_now = asyncio.Event()
        self.discovery_failures = 0

    # ---- discovery -----------------------------------------------------------------------------------
    def _envelope(self, message_id: str | None = None) -> Envelope:
        return Envelope.new(self.producer, message_id=message_id)

    def _stream(self, condition_id: str) -> str:
        return events_stream(self.shards.shard_of(condition_id))

    def refresh_outputs(self, result: RefreshResult) -> list[Output]:
        self.shards.assign([*result.discovered, *(info for info, _ in result.updated)])
        out: list[Output] = []
        for info in result.discovered:
            out.append(
                Output(
                    self._stream(info.condition_id), MarketDiscovered(envelope=self._envelope(), market=info)
                )
            )
        for info, changed in result.updated:
            out.append(
                Output(
                    self._stream(info.condition_id),
                    MarketUpdated(envelope=self._envelope(), market=info, changed=changed),
                )
            )
            if "tick_size" in changed:
                out += self.feed.gamma_tick_change(info)
        for cid, token, outcome in result.resolved:
            out.append(
                Output(
                    self._stream(cid),
                    MarketResolved(
                        envelope=self._envelope(deterministic_id("market_resolved", cid)),
                        condition_id=cid,
                        winning_token_id=token,
                        winning_outcome=outcome,
                    ),
                )
            )
        return out

    async def sync_subscriptions(self) -> None:
        """Books and socket subscriptions follow the selected markets."""
        async with self._subscribe_lock:
            selected = self.discovery.markets
            for cid in [c for c in self.feed.books.markets if c not in selected]:
                self.feed.untrack_market(cid)
            wanted: list[str] = []
            for info in selected.values():
                wanted += self.feed.track_market(info)
            added, removed = await self.ws.set_assets(wanted)
            if added or removed:
                log.info(
                    "ingest: subscribed %d tokens (+%d -%d) on %d connection(s)",
                    len(wanted),
                    len(added),
                    len(removed),
                    len(self.ws.connections),
                )

    async def refresh_once(self) -> RefreshResult:
        result = await self.discovery.refresh()
        outputs = self.refresh_outputs(result)
        if outputs:
            await self.ctx.bus.publish_many(outputs)
        await self.sync_subscriptions()
        if result.discovered or result.resolved or result.dropped:
            log.info(
                "ingest: discovery: %d selected, +%d discovered, %d updated, %d resolved, %d dropped",
                len(self.discovery.markets),
                len(result.discovered),
                len(result.updated),
                len(result.resolved),
                len(result.dropped),
            )
        return result

    async def discover(self) -> None:
        """One discovery pass (a periodic job: the runtime logs and backs off its errors); counted for the
        health status and the poll-error metric."""
        try:
            await self.refresh_once()
        except Exception:
            self.discovery_failures += 1
            metrics.INGEST_POLL_ERRORS.labels(source="gamma").inc()
            raise
        self.discovery_failures = 0

    async def on_market_event(self, message: NewMarketMessage | MarketResolvedMessage) -> list[Output]:
        """WS new_market / market_resolved, from inside a frame: messages to publish with that frame."""
        if isinstance(message, NewMarketMessage):
            info = self.discovery.on_new_market(message)
            if info is None:
                self._refresh_now.set()  # Gamma will say whether it passes the filters
                return []
            self.shards.assign([info])
            self._spawn_sync()
            return [
                Output(
                    self._stream(info.condition_id), MarketDiscovered(envelope=self._envelope(), market=info)
                )
            ]
        if not self.discovery.on_resolved(message.market):
            return []
        out = [Output(self._stream(message.market), parse.market_resolved(message, self.producer))]
        self._spawn_sync()
        return out

    def _spawn_sync(self) -> None:
        self.feed.spawn(self.sync_subscriptions())

    # ---- the rest ------------------------------------------------------------------------------------
    async def maintain(self) -> None:
        """Snapshot timeouts, freshness probes, silence gauges and the health status (a periodic job)."""
        self.feed.maintain()
        now = time.monotonic()
        for conn in self.ws.connections:
            metrics.INGEST_DATA_SILENCE_SECONDS.labels(connection=conn.name).set(
                now - conn.stats.last_frame_at if conn.stats.connected else 0
            )
        self.ctx.status.update(self.status())

    def status(self) -> dict[str, object]:
        status: dict[str, object] = {
            "markets": len(self.discovery.markets),
            "discovery_failures": self.discovery_failures,
            "ws": self.ws.status(),
            "feed": self.feed.status(),
            "wallets": dict(self.wallets.counts),
        }
        if self.accounts is not None:
            status["chain"] = dict(self.accounts.status)
        return status

    async def run(self) -> None:
        # Declared on the runtime: a loop that dies takes the service down (health red first).
        # Periodic jobs: an error is logged and backed off by the runtime and the job goes on.
        tasks = [
            self.ctx.every(
                "ingest:discovery",
                self.settings.discovery_refresh_secs,
                self.discover,
                wake=self._refresh_now,
            ),
            self.ctx.every("ingest:maintain", MAINTAIN_EVERY_SECS, self.maintain),
        ]
        if self.settings.watched_wallets:
            tasks.append(
                self.ctx.task(
                    "ingest:wallets",
                    lambda: self.wallets.run(self.ctx.stopping, self.settings.wallet_poll_secs),
                )
            )
        if self.accounts is not None:
            accounts = self.accounts
            tasks.append(self.ctx.every("ingest:accounts", self.settings.chain_poll_secs, accounts.read_once))
        try:
            await self.ctx.stopping.wait()
        finally:
            await self.ws.close()
            await self.feed.close()
            await self.ctx.cancel_tasks(tasks)
            for client in (self.http, self.gamma, self.data_api):
                await client.aclose()


def build_main(settings: IngestSettings) -> ServiceMain:
    async def main(ctx: ServiceContext) -> None:
        await Ingest(settings, ctx).run()

    return main
