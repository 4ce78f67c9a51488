"""A live venue as an external book source: paper trading on live books (`--mirror-*`, `polydesk up --paper-live`).

The paper exchange becomes a shadow of a real venue. At start it copies the venue's markets from Gamma
(`load_markets`, the same selection polydesk's ingest makes: named condition ids or slugs, else the
biggest 24h volume first); then `LiveMirror.run` holds market-channel sockets to the venue and turns what
they say (`book`, `price_change`, `last_trade_price`, `tick_size_change`, `market_resolved`) into
`BookBatch`es for `ExternalBooks.apply` (paperexchange/sim/external_book.py), the one matching model the
backtest's tape replay uses too: our orders queue behind the venue's size and fill from its prints.

A venue sends one trade as several events (the level's `price_change` or a `book`, and a `last_trade_price`
per maker), all stamped with the trade's time. The model must see them together (prints first), or the
level's decrease would be read as a cancel and the print would then consume the queue a second time. So
events are grouped by their own timestamp and a group is applied once no event of its time has arrived for
`coalesce_secs` (the price of this: our book lags the venue by that much).

Nothing is ever sent to the venue but subscriptions: our orders, trades, balances, settlement and user
channel stay the paper exchange's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import orjson

from paperexchange.core.markets import Market
from paperexchange.sim.external_book import BookBatch, ExternalBooks, batches_from_frames
from paperexchange.sim.tape_source import TapeError, market_from_gamma
from shared.polymarket.ws import MarketFeed, WsOptions

if TYPE_CHECKING:  # the venue assembles sim/ modules; this one only drives it
    from paperexchange.venue import Venue

log = logging.getLogger("paperexchange.mirror")

ASSETS_PER_CONNECTION = 400  # Polymarket's per-socket cap is said to be 500 (unverified): stay under it
GAMMA_PAGE = 100


class MirrorError(RuntimeError):
    """The venue to mirror cannot be used (unreachable, no markets); the message says which and why."""


@dataclass(frozen=True, slots=True)
class MirrorTarget:
    """Which venue to mirror and which of its markets."""

    gamma_url: str
    market_ws_url: str
    condition_ids: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()
    max_markets: int = 50
    coalesce_secs: float = 0.05


def _selector_queries(target: MirrorTarget) -> list[list[tuple[str, str]]]:
    queries = []
    if target.condition_ids:
        queries.append([("condition_ids", c) for c in target.condition_ids])
    if target.slugs:
        queries.append([("slug", s) for s in target.slugs])
    return queries or [[]]


def fetch_gamma_markets(target: MirrorTarget, client: httpx.Client) -> list[dict]:
    """The venue's open markets the target selects, biggest 24h volume first, at most `max_markets`."""
    base = [("active", "true"), ("closed", "false"), ("order", "volume24hr"), ("ascending", "false")]
    found: dict[str, dict] = {}
    for selector in _selector_queries(target):
        offset = 0
        while len(found) < target.max_markets:
            params = (*base, *selector, ("limit", str(GAMMA_PAGE)), ("offset", str(offset)))
            page = client.get(target.gamma_url.rstrip("/") + "/markets", params=params)
            page.raise_for_status()
            items = page.json()
            if not isinstance(items, list) or not items:
                break
            for item in items:
                if isinstance(item, dict) and item.get("conditionId") and not item.get("closed"):
                    found.setdefault(str(item["conditionId"]), item)
            if len(items) < GAMMA_PAGE or selector:
                break
            offset += len(items)
    return list(found.values())[: target.max_markets]


def load_markets(venue: Venue, target: MirrorTarget, timeout_secs: float = 15.0) -> list[Market]:
    """Create the selected markets of the venue on the paper exchange, with the venue's ids and rules."""
    try:
        with httpx.Client(timeout=timeout_secs) as client:
            gammas = fetch_gamma_markets(target, client)
    except (httpx.HTTPError, orjson.JSONDecodeError, ValueError) as error:
        raise MirrorError(
            f"cannot read markets from {target.gamma_url}: {type(error).__name__}: {error}"
        ) from None
    created = []
    for gamma in gammas:
        try:
            market = market_from_gamma(gamma)
        except TapeError as error:
            log.warning("mirror: skipping a market: %s", error)
            continue
        if venue.exchange.markets.by_condition(market.condition_id) is None:
            market.created_at = venue.clock.now()
            created.append(venue.exchange.add_market(market))
    if not created:
        raise MirrorError(f"{target.gamma_url} has no open market that the mirror settings select")
    return created


@dataclass
class _Group:
    received_ms: int
    events: list[dict] = field(default_factory=list)
    last_at: float = 0.0


class EventGrouper:
    """Events grouped by their own timestamp; a group is due once quiet for `window_secs`, oldest first."""

    def __init__(self, window_secs: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_secs = window_secs
        self._clock = clock
        self._groups: dict[int, _Group] = {}  # insertion order = arrival order of each time's first event

    def add(self, event: dict, received_ms: int) -> None:
        try:
            ts = int(event["timestamp"])
        except (KeyError, TypeError, ValueError):
            ts = received_ms
        group = self._groups.setdefault(ts, _Group(received_ms))
        group.events.append(event)
        group.last_at = self._clock()

    def due(self, flush_all: bool = False) -> list[BookBatch]:
        """The groups quiet for the window, as batches (a group is due only once all earlier ones are)."""
        now, batches = self._clock(), []
        for ts in list(self._groups):
            group = self._groups[ts]
            if not flush_all and now - group.last_at < self.window_secs:
                break
            del self._groups[ts]
            for batch in batches_from_frames([(group.received_ms, group.events)]):
                batch.ts_ms = ts  # one timestamp per group, also for events that carried none
                batches.append(batch)
        return batches

    def __len__(self) -> int:
        return len(self._groups)


class LiveMirror:
    """Keeps the paper exchange's books following the venue's market channel."""

    def __init__(self, venue: Venue, target: MirrorTarget, options: WsOptions | None = None) -> None:
        self.venue = venue
        self.target = target
        self.books = ExternalBooks(venue)
        self.grouper = EventGrouper(target.coalesce_secs)
        self.feed = MarketFeed(
            target.market_ws_url,
            self._on_frame,
            max_assets=ASSETS_PER_CONNECTION,
            options=options or WsOptions(custom_features=True),
            on_disconnect=self._on_disconnect,
        )
        self.batches = 0
        self.errors = 0
        self.last_error = ""
        self._wakeup = asyncio.Event()

    def assets(self) -> list[str]:
        return [token for market in self.venue.exchange.markets.all() for token in market.token_ids]

    async def run(self) -> None:
        """Hold the sockets and apply what they say until cancelled."""
        try:
            await self.feed.set_assets(self.assets())
            while True:
                if not len(self.grouper):
                    self._wakeup.clear()
                    await self._wakeup.wait()
                await asyncio.sleep(self.target.coalesce_secs)
                self.apply_due()
        finally:
            await self.feed.close()

    def apply_due(self, flush_all: bool = False) -> int:
        batches = self.grouper.due(flush_all)
        for batch in batches:
            try:
                self.books.apply(batch)
            except Exception as error:  # one bad batch must not end the mirror; the next snapshot repairs
                self.errors += 1
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("mirror: applying the venue's events of %s failed", batch.ts_ms)
        self.batches += len(batches)
        return len(batches)

    async def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        received_ms = int(self.venue.clock.now() * 1000)
        for event in frame if isinstance(frame, list) else [frame]:
            if isinstance(event, dict) and event.get("event_type"):
                self.grouper.add(event, received_ms)
        self._wakeup.set()

    async def _on_disconnect(self, reason: str) -> None:
        self.last_error = reason
        log.warning("mirror: lost the venue's market channel (%s); books are stale until it is back", reason)

    def status(self) -> dict:
        """What `GET /_paper/mirror` answers: a shadow whose feed is down must not look live."""
        connections = self.feed.connections
        heard = [c.stats.last_frame_at for c in connections if c.stats.frames]
        return {
            "gamma_url": self.target.gamma_url,
            "market_ws_url": self.target.market_ws_url,
            "markets": len(self.venue.exchange.markets.all()),
            **self.feed.status(),
            "frames": sum(c.stats.frames for c in connections),
            "batches": self.batches,
            "pending_groups": len(self.grouper),
            "last_frame_age_secs": round(time.monotonic() - max(heard), 3) if heard else None,
            "errors": self.errors,
            "last_error": self.last_error,
        }
