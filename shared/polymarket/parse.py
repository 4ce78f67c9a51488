"""Pure translation of Polymarket wire models into bus messages (shared.messages). No I/O.

Envelope source timestamps are the venue's when it gives one (market-channel ms, Data API seconds), so
latency can be measured from the venue end to end.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared import metrics
from shared.message_checks import MessageError
from shared.messages import (
    Envelope,
    LastTrade,
    MarketInfo,
    MarketResolved,
    Side,
    TickSizeChanged,
    TokenInfo,
    TradeSeen,
    deterministic_id,
)
from shared.polymarket.data_api import DataTrade
from shared.polymarket.gamma import GammaEventRef, GammaMarket
from shared.polymarket.schemas import (
    LastTradePriceMessage,
    MarketResolvedMessage,
    NewMarketMessage,
    TickSizeChangeMessage,
)

DEFAULT_TICK = Decimal("0.01")
DEFAULT_MIN_SIZE = Decimal(5)

log = logging.getLogger(__name__)


def ms_to_ns(ms: str | int | None) -> int | None:
    """Venue milliseconds (as text or int) -> nanoseconds; None when absent or not a number."""
    if ms is None or ms == "":
        return None
    try:
        return int(ms) * 1_000_000
    except (TypeError, ValueError):
        return None


def _dec(value: Any, default: Decimal) -> Decimal:
    if value is None or value == "":
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return default
    return number if number.is_finite() else default


def iso_to_ts(text: str | None) -> int | None:
    """Gamma ISO-8601 date ("2026-12-31T23:59:00Z", or a bare date) -> unix seconds; None when unparsable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        return calendar.timegm(parsed.utctimetuple())
    except (ValueError, OverflowError):  # OverflowError: "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        return None


def market_info(market: GammaMarket, event: GammaEventRef | None = None) -> MarketInfo | None:
    """A Gamma market as MarketInfo; None when it has no order book tokens (nothing to trade), or when its
    rules are out of the venue's domain (a tick of 0, an absurd minimum size): logged and counted."""
    try:
        return _market_info(market, event)
    except MessageError as error:
        _refused("gamma", market.conditionId, error)
        return None


def _refused(source: str, market: str | None, error: MessageError) -> None:
    metrics.INGEST_PARSE_ERRORS.labels(source=source).inc()
    log.warning("market %s from %s refused: %s", market, source, error)


def _market_info(market: GammaMarket, event: GammaEventRef | None) -> MarketInfo | None:
    tokens = market.clobTokenIds
    if not market.conditionId or not tokens:
        return None
    outcomes = (
        market.outcomes
        if len(market.outcomes) == len(tokens)
        else [("Yes", "No")[i] if len(tokens) == 2 else str(i) for i in range(len(tokens))]
    )
    event = event or (market.events[0] if market.events else None)
    fees = market.feeSchedule or {}
    return MarketInfo(
        condition_id=market.conditionId,
        question=market.question,
        slug=market.slug,
        tokens=tuple(TokenInfo(token_id=t, outcome=o) for t, o in zip(tokens, outcomes)),
        neg_risk=market.negRisk,
        neg_risk_market_id=market.negRiskMarketID or None,
        event_slug=event.slug if event else None,
        tick_size=_dec(market.orderPriceMinTickSize, DEFAULT_TICK),
        min_order_size=_dec(market.orderMinSize, DEFAULT_MIN_SIZE),
        end_date_ts=iso_to_ts(market.endDate),
        volume_24h_usd=_dec(market.volume24hr, Decimal(0)),
        liquidity_usd=_dec(
            market.liquidityNum if market.liquidityNum is not None else market.liquidity, Decimal(0)
        ),
        active=market.active,
        closed=market.closed,
        accepting_orders=market.acceptingOrders if market.acceptingOrders is not None else market.active,
        fee_rate=_dec(fees.get("rate"), Decimal(0)) if market.feesEnabled is not False else Decimal(0),
        fee_exponent=_dec(fees.get("exponent"), Decimal(0)),
        tags=tuple(t.slug or t.label or t.id or "" for t in market.tags),
    )


def new_market_info(msg: NewMarketMessage) -> MarketInfo | None:
    """A WS `new_market` event as MarketInfo; None without a condition id or tokens, or out of domain."""
    try:
        return _new_market_info(msg)
    except MessageError as error:
        _refused("market_ws", msg.condition_id or msg.market, error)
        return None


def _new_market_info(msg: NewMarketMessage) -> MarketInfo | None:
    condition = msg.condition_id or msg.market
    tokens = msg.clob_token_ids or msg.assets_ids
    if not condition or not tokens:
        return None
    outcomes = msg.outcomes if len(msg.outcomes) == len(tokens) else tuple(str(i) for i in range(len(tokens)))
    event = msg.event_message
    return MarketInfo(
        condition_id=condition,
        question=msg.question or "",
        slug=msg.slug or "",
        tokens=tuple(TokenInfo(token_id=t, outcome=o) for t, o in zip(tokens, outcomes)),
        event_slug=event.slug if event else None,
        tick_size=_dec(msg.order_price_min_tick_size, DEFAULT_TICK),
        min_order_size=DEFAULT_MIN_SIZE,
        active=msg.active if msg.active is not None else True,
        tags=msg.tags,
    )


def last_trade(msg: LastTradePriceMessage, producer: str) -> LastTrade:
    return LastTrade(
        envelope=Envelope.new(producer, source_ts_ns=ms_to_ns(msg.timestamp)),
        market=msg.market,
        token_id=msg.asset_id,
        price=Decimal(msg.price),
        size=_dec(msg.size, Decimal(0)),
        side=Side(msg.side),
        fee_rate_bps=_dec(msg.fee_rate_bps, Decimal(0)),
        transaction_hash=msg.transaction_hash,
    )


def tick_size_changed(
    msg: TickSizeChangeMessage, producer: str, old_tick: str | None = None
) -> TickSizeChanged:
    old = msg.old_tick_size or old_tick or msg.new_tick_size
    return TickSizeChanged(
        envelope=Envelope.new(producer, source_ts_ns=ms_to_ns(msg.timestamp)),
        market=msg.market,
        token_id=msg.asset_id,
        old_tick_size=Decimal(old),
        new_tick_size=Decimal(msg.new_tick_size),
    )


def market_resolved(msg: MarketResolvedMessage, producer: str) -> MarketResolved:
    return MarketResolved(
        envelope=Envelope.new(
            producer,
            source_ts_ns=ms_to_ns(msg.timestamp),
            message_id=deterministic_id("market_resolved", msg.market),
        ),
        condition_id=msg.market,
        winning_token_id=msg.winning_asset_id,
        winning_outcome=msg.winning_outcome,
    )


def trade_key(trade: DataTrade) -> str:
    """Stable per trade of a wallet: the Data API has no trade id, so tx hash + asset + side + size + price
    (+ timestamp when there is no tx hash)."""
    parts = [
        trade.proxyWallet.lower(),
        trade.transactionHash or f"ts{trade.timestamp}",
        trade.asset,
        trade.side,
        _plain(_dec(trade.size, Decimal(0))),
        _plain(_dec(trade.price, Decimal(0))),
    ]
    return ":".join(parts)


def _plain(value: Decimal) -> str:
    """A canonical decimal string without exponent: 50, 50.0 and 5E+1 all read "50"."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def trade_seen(trade: DataTrade, producer: str) -> TradeSeen:
    """The trade-seen event of one watched-wallet trade; its message id is derived from the trade key."""
    key = trade_key(trade)
    return TradeSeen(
        envelope=Envelope.new(
            producer,
            source_ts_ns=trade.timestamp * 1_000_000_000,
            message_id=deterministic_id("trade_seen", key),
        ),
        wallet=trade.proxyWallet.lower(),
        market=trade.conditionId,
        token_id=trade.asset,
        side=Side(trade.side),
        size=Decimal(trade.size),
        price=Decimal(trade.price),
        outcome=trade.outcome,
        trade_key=key,
        transaction_hash=trade.transactionHash,
        traded_at_ts=trade.timestamp,
    )
