"""Watched-wallet trades (copy trading): the Data API polled per wallet; each trade becomes exactly one
trade_seen event on its market's events stream, also across restarts and crashes.

Why exactly one. The Data API has no trade id, so a trade is keyed by wallet + tx hash + token + side +
size + price (`parse.trade_key`). Every trade is published with `Bus.publish_once`: one Redis script that
checks the key against the wallet's sorted set of published keys, XADDs the event and adds the key,
all atomically. There is no window between "published" and "recorded": a crash either happens before
the script (nothing written; the next poll publishes it) or after (both written; the next poll finds
the key and skips it). The record lives in the same Redis as the stream, so it survives a restart of
ingest exactly as the event does (and with AOF, a restart of Redis too: both or neither). The message
id is derived from the trade key as well, so even a copy made outside this path is recognisable.

The cursor is the newest published trade's timestamp (the set's highest score): each poll reads the
trades at or after `cursor - wallet_overlap_secs` (late-indexed trades land inside the overlap) and the
set keeps keys for `retention` > overlap, so every trade a poll can return is either new or in the set.
A wallet seen for the first time starts `wallet_overlap_secs` back from now: recent trades only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from shared import metrics
from shared.errors import RateLimited, TransientVenueError
from shared.polymarket import parse
from shared.polymarket.data_api import DataApiClient, DataTrade
from shared.retry import backoff_delay
from shared.streams import Bus, events_stream

log = logging.getLogger(__name__)

MIN_RETENTION_SECS = 86_400


def seen_key(wallet: str) -> str:
    """The logical key of a wallet's published trade keys (a sorted set scored by trade time)."""
    return f"ingest:trades_seen:{wallet.lower()}"


class WalletWatcher:
    """Polls each watched wallet and publishes its new trades, oldest first."""

    def __init__(
        self,
        bus: Bus,
        client: DataApiClient,
        wallets: tuple[str, ...],
        *,
        shard_of: Callable[[str], str],
        overlap_secs: int = 300,
        page_size: int = 100,
        producer: str = "ingest",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus, self.client, self.wallets = bus, client, tuple(w.lower() for w in wallets)
        self.shard_of, self.overlap, self.page_size = shard_of, overlap_secs, page_size
        self.producer, self._clock = producer, clock
        self.retention = max(MIN_RETENTION_SECS, 4 * overlap_secs)
        self.counts = {"polls": 0, "poll_errors": 0, "published": 0, "duplicates": 0}
        self._failures = 0

    async def cursor(self, wallet: str) -> int | None:
        """The newest published trade time of a wallet, or None when nothing was published yet."""
        newest = await self.bus.newest_once_score(seen_key(wallet))
        return None if newest is None else int(newest)

    async def poll_wallet(self, wallet: str) -> int:
        """One poll of one wallet; returns how many trade_seen events it published."""
        cursor = await self.cursor(wallet)
        since = (cursor if cursor is not None else int(self._clock())) - self.overlap
        trades = await self.client.trades_since(wallet, since, page_size=self.page_size)
        published = 0
        for trade in trades:
            if trade.proxyWallet.lower() != wallet:
                continue  # the venue answered for someone else: never attribute it to this wallet
            published += await self.publish(trade)
        return published

    async def publish(self, trade: DataTrade) -> int:
        message = parse.trade_seen(trade, self.producer)
        newest = max(trade.timestamp, await self.cursor(trade.proxyWallet) or 0)
        entry = await self.bus.publish_once(
            events_stream(self.shard_of(trade.conditionId)),
            message,
            seen_key=seen_key(trade.proxyWallet),
            member=message.trade_key,
            score=trade.timestamp,
            prune_below=newest - self.retention,
        )
        if entry is None:
            self.counts["duplicates"] += 1
            return 0
        self.counts["published"] += 1
        metrics.INGEST_TRADES_SEEN.inc()
        log.info(
            "ingest: trade_seen %s %s %s %s @ %s",
            trade.proxyWallet[:10],
            trade.side,
            trade.size,
            trade.asset[:12],
            trade.price,
        )
        return 1

    async def poll_all(self) -> int:
        total = 0
        for wallet in self.wallets:
            total += await self.poll_wallet(wallet)
        return total

    async def run(self, stopping: asyncio.Event, poll_secs: float) -> None:
        """Poll until `stopping`; a failing Data API backs off (with jitter) and is retried, never fatal."""
        while not stopping.is_set():
            delay = poll_secs
            try:
                self.counts["polls"] += 1
                await self.poll_all()
                self._failures = 0
            except (TransientVenueError, RedisError, OSError) as error:
                self._failures += 1
                self.counts["poll_errors"] += 1
                metrics.INGEST_POLL_ERRORS.labels(source="data_api").inc()
                delay = max(poll_secs, backoff_delay(self._failures, base_secs=poll_secs, max_secs=300))
                if isinstance(error, RateLimited):
                    delay = max(delay, error.retry_after_secs)
                if self._failures in (1, 10) or self._failures % 100 == 0:
                    log.warning("ingest: wallet poll failed (%d in a row): %s", self._failures, error)
            try:
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            except TimeoutError:
                pass
