"""Market discovery from Gamma: the filters from settings, neg-risk events kept whole, and the diff of each
refresh into discovered / updated / resolved markets. Also folds in the WS new_market / market_resolved.

The selection: markets named by slug / condition id / tag (or, with none named, all markets), active,
not closed, accepting orders, with at least the minimum 24h volume and liquidity, ending inside the
window; the biggest 24h volume first up to `discovery_max_markets`. A selected neg-risk market brings
every open market of its event (whatever their volume), so arbitrage over the event sees all legs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from services.ingest.config import IngestSettings
from shared.messages import MarketInfo
from shared.polymarket.gamma import GammaClient, GammaEvent, GammaEventRef, GammaMarket
from shared.polymarket.parse import market_info, new_market_info
from shared.polymarket.schemas import NewMarketMessage

log = logging.getLogger(__name__)

# Fields whose change is worth a market_updated event (volume and liquidity move all the time).
WATCHED_FIELDS = (
    "question",
    "tick_size",
    "min_order_size",
    "end_date_ts",
    "active",
    "closed",
    "accepting_orders",
    "fee_rate",
    "fee_exponent",
    "neg_risk",
    "tokens",
)


@dataclass
class RefreshResult:
    discovered: list[MarketInfo] = field(default_factory=list)
    updated: list[tuple[MarketInfo, tuple[str, ...]]] = field(default_factory=list)
    resolved: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # cid, token, outcome
    dropped: list[str] = field(default_factory=list)  # no longer selected (not resolved)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_params(settings: IngestSettings, now: float) -> list[tuple[str, str]]:
    params = [("active", "true"), ("closed", "false"), ("order", "volume24hr"), ("ascending", "false")]
    if settings.discovery_min_liquidity_usd > 0:
        params.append(("liquidity_num_min", repr(settings.discovery_min_liquidity_usd)))
    if settings.discovery_end_after_days > 0:
        params.append(("end_date_min", _iso(now + settings.discovery_end_after_days * 86400)))
    if settings.discovery_end_within_days is not None:
        params.append(("end_date_max", _iso(now + settings.discovery_end_within_days * 86400)))
    return params


def selector_queries(settings: IngestSettings) -> list[list[tuple[str, str]]]:
    """One extra parameter set per selector kind; [[]] (one unrestricted query) when nothing is named."""
    queries: list[list[tuple[str, str]]] = []
    if settings.discovery_condition_ids:
        queries.append([("condition_ids", c) for c in settings.discovery_condition_ids])
    if settings.discovery_slugs:
        queries.append([("slug", s) for s in settings.discovery_slugs])
    for tag in settings.discovery_tags:
        queries.append([("tag_id", tag)] if tag.isdigit() else [("tag_slug", tag)])
    return queries or [[]]


def passes(info: MarketInfo, market: GammaMarket, settings: IngestSettings, now: float) -> bool:
    """The filters again, locally: Gamma may ignore a parameter, and volume24hr has no server filter."""
    if not info.active or info.closed or not info.accepting_orders or market.archived:
        return False
    if market.enableOrderBook is False:
        return False
    if info.volume_24h_usd < Decimal(repr(settings.discovery_min_volume_24h_usd)):
        return False
    if info.liquidity_usd < Decimal(repr(settings.discovery_min_liquidity_usd)):
        return False
    end = info.end_date_ts
    if end is not None:
        if end < now + settings.discovery_end_after_days * 86400:
            return False
        if (
            settings.discovery_end_within_days is not None
            and end > now + settings.discovery_end_within_days * 86400
        ):
            return False
    return _named(info, settings)


def _named(info: MarketInfo, settings: IngestSettings) -> bool:
    if not (settings.discovery_slugs or settings.discovery_condition_ids or settings.discovery_tags):
        return True
    tags = {t.lower() for t in info.tags}
    return (
        info.condition_id in settings.discovery_condition_ids
        or info.slug in settings.discovery_slugs
        or (info.event_slug is not None and info.event_slug in settings.discovery_slugs)
        or any(t.lower() in tags for t in settings.discovery_tags)
    )


def changed_fields(old: MarketInfo, new: MarketInfo) -> tuple[str, ...]:
    return tuple(name for name in WATCHED_FIELDS if getattr(old, name) != getattr(new, name))


def winner(market: GammaMarket) -> tuple[str | None, str | None]:
    """(winning token, outcome) of a closed market from its outcome prices, when one is at 1."""
    for token, outcome, price in zip(market.clobTokenIds, market.outcomes, market.outcomePrices):
        try:
            if Decimal(price) == 1:
                return token, outcome
        except ArithmeticError:
            continue
    return None, None


class Discovery:
    """Keeps the selected markets; `refresh()` asks Gamma again and returns what changed."""

    def __init__(
        self, settings: IngestSettings, client: GammaClient, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings, self.client, self._clock = settings, client, clock
        self.markets: dict[str, MarketInfo] = {}
        self.resolved: set[str] = set()

    async def _fetch(self, now: float) -> dict[str, tuple[MarketInfo, GammaMarket]]:
        settings, found = self.settings, {}
        limit = settings.discovery_max_markets * 4
        for extra in selector_queries(settings):
            markets = await self.client.markets(
                [*base_params(settings, now), *extra], page_size=settings.discovery_page_size, max_items=limit
            )
            for market in markets:
                info = market_info(market)
                if info is not None:
                    found[info.condition_id] = (info, market)
        if settings.discovery_slugs:  # a named slug may be an event's
            events = await self.client.events(
                [("closed", "false"), *[("slug", s) for s in settings.discovery_slugs]],
                page_size=settings.discovery_page_size,
            )
            for event in events:
                for market in event.markets:
                    info = market_info(market, _event_ref(event))
                    if info is not None:
                        found.setdefault(info.condition_id, (info, market))
        return found

    async def _siblings(self, event_slugs: set[str]) -> dict[str, tuple[MarketInfo, GammaMarket]]:
        if not event_slugs:
            return {}
        events = await self.client.events(
            [("closed", "false"), *[("slug", s) for s in sorted(event_slugs)]],
            page_size=self.settings.discovery_page_size,
        )
        out = {}
        for event in events:
            for market in event.markets:
                info = market_info(market, _event_ref(event))
                if info is not None:
                    out[info.condition_id] = (info, market)
        return out

    def select(
        self,
        found: dict[str, tuple[MarketInfo, GammaMarket]],
        siblings: dict[str, tuple[MarketInfo, GammaMarket]],
        now: float,
    ) -> dict[str, MarketInfo]:
        """Apply the filters and the cap, then add the open siblings of every selected neg-risk market."""
        chosen = [info for info, market in found.values() if passes(info, market, self.settings, now)]
        chosen.sort(key=lambda m: m.volume_24h_usd, reverse=True)
        selected: dict[str, MarketInfo] = {}
        groups_done: set[str] = set()
        for info in chosen:
            if len(selected) >= self.settings.discovery_max_markets:
                break
            selected[info.condition_id] = info
            if info.neg_risk and info.event_slug and info.event_slug not in groups_done:
                groups_done.add(info.event_slug)
                for sib, market in [*found.values(), *siblings.values()]:
                    if sib.event_slug == info.event_slug and _open(sib, market):
                        selected.setdefault(sib.condition_id, sib)
        return selected

    async def refresh(self) -> RefreshResult:
        """One Gamma round; raises TransientVenueError when Gamma cannot be read (nothing changes then)."""
        now = self._clock()
        found = await self._fetch(now)
        first = self.select(found, {}, now)
        events = {m.event_slug for m in first.values() if m.neg_risk and m.event_slug}
        selected = self.select(found, await self._siblings(events), now) if events else first
        result = RefreshResult()
        for cid, info in selected.items():
            old = self.markets.get(cid)
            if old is None:
                result.discovered.append(info)
            else:
                changed = changed_fields(old, info)
                if changed:
                    result.updated.append((info, changed))
        gone = [cid for cid in self.markets if cid not in selected]
        if gone:
            result.resolved, result.dropped = await self._classify_gone(gone)
        self.markets = {cid: info for cid, info in selected.items() if cid not in self.resolved}
        return result

    async def _classify_gone(
        self, gone: list[str]
    ) -> tuple[list[tuple[str, str | None, str | None]], list[str]]:
        markets = await self.client.markets(
            [("condition_ids", c) for c in gone],
            page_size=self.settings.discovery_page_size,
            max_items=len(gone) * 2,
        )
        state = {m.conditionId: m for m in markets}
        resolved, dropped = [], []
        for cid in gone:
            market = state.get(cid)
            if market is not None and market.closed and cid not in self.resolved:
                self.resolved.add(cid)
                resolved.append((cid, *winner(market)))
            elif cid not in self.resolved:
                dropped.append(cid)
        return resolved, dropped

    def on_new_market(self, msg: NewMarketMessage) -> MarketInfo | None:
        """A WS new_market: selected at once when the filters can tell from it alone, else None (the next
        refresh decides)."""
        info = new_market_info(msg)
        settings = self.settings
        if info is None or info.condition_id in self.markets or not info.active:
            return None
        needs_numbers = settings.discovery_min_volume_24h_usd > 0 or settings.discovery_min_liquidity_usd > 0
        if needs_numbers or len(self.markets) >= settings.discovery_max_markets or not _named(info, settings):
            return None
        self.markets[info.condition_id] = info
        return info

    def on_resolved(self, condition_id: str) -> bool:
        """A WS market_resolved: True the first time (the market leaves the selection)."""
        if condition_id in self.resolved:
            return False
        self.resolved.add(condition_id)
        self.markets.pop(condition_id, None)
        return True


def _open(info: MarketInfo, market: GammaMarket) -> bool:
    return info.active and not info.closed and not market.archived and market.enableOrderBook is not False


def _event_ref(event: GammaEvent) -> GammaEventRef:
    return GammaEventRef(id=event.id, slug=event.slug, title=event.title, negRisk=event.negRisk)
