"""JSON shapes of orders and trades as the venue sends them (REST and user channel), field names verbatim."""

from __future__ import annotations

from paperexchange.engine import Order
from paperexchange.markets import Market
from paperexchange.trades import Trade, fee_rate_bps
from paperexchange.units import amount_str, price_str

# REST trade listings carry the raw status constants; the user channel sends them plain (SDK comment in
# polymarket-client models/clob/account.py, ../shared/polymarket-protocol.md §3.1).
REST_TRADE_STATUS_PREFIX = "TRADE_STATUS_"


def open_order(order: Order, market: Market) -> dict:
    """OpenOrder as GET /data/order/{id} and /data/orders return it (http_open_order.json)."""
    return {
        "id": order.id,
        "status": order.status,
        "owner": order.owner,
        "maker_address": order.maker,
        "market": order.condition_id,
        "asset_id": order.token_id,
        "side": order.side,
        "original_size": amount_str(order.original_size),
        "size_matched": amount_str(order.matched),
        "price": price_str(order.price),
        "outcome": market.outcome_of(order.token_id),
        "expiration": str(order.expiration),
        "order_type": order.order_type,
        "associate_trades": list(order.trade_ids),
        "created_at": order.created_at,
    }


def order_event(order: Order, market: Market, event_type: str, timestamp_ms: int) -> dict:
    """User-channel `order` event (order_placement.json field set)."""
    return {
        "asset_id": order.token_id,
        "associate_trades": list(order.trade_ids) if order.trade_ids else None,
        "created_at": str(order.created_at),
        "event_type": "order",
        "expiration": str(order.expiration),
        "id": order.id,
        "maker_address": order.maker,
        "market": order.condition_id,
        "order_owner": order.owner,
        "order_type": order.order_type,
        "original_size": amount_str(order.original_size),
        "outcome": market.outcome_of(order.token_id),
        "owner": order.owner,
        "price": price_str(order.price),
        "side": order.side,
        "size_matched": amount_str(order.matched),
        "status": order.status,
        "timestamp": str(timestamp_ms),
        "type": event_type,
    }


def _maker_order(trade: Trade) -> dict:
    maker, market = trade.maker, trade.market
    return {
        "order_id": maker.id,
        "owner": maker.owner,
        "maker_address": maker.maker,
        "matched_amount": amount_str(trade.size),
        "price": price_str(trade.maker_price),
        "fee_rate_bps": "0",
        "asset_id": maker.token_id,
        "side": maker.side,
        "outcome": market.outcome_of(maker.token_id),
        "outcome_index": 0 if market.is_yes(maker.token_id) else 1,
    }


def _trade_body(trade: Trade, viewer_is_taker: bool) -> dict:
    taker, market = trade.taker, trade.market
    viewer = taker if viewer_is_taker else trade.maker
    return {
        "id": trade.id,
        "taker_order_id": taker.id,
        "market": market.condition_id,
        "asset_id": taker.token_id,
        "side": taker.side,
        "size": amount_str(trade.size),
        "fee_rate_bps": fee_rate_bps(market),
        "price": price_str(trade.taker_price),
        "match_time": str(trade.match_time),
        "last_update": str(trade.last_update or trade.match_time),
        "outcome": market.outcome_of(taker.token_id),
        "bucket_index": 0,
        "owner": viewer.owner,
        "maker_address": viewer.maker,
        "transaction_hash": trade.transaction_hash,
        "maker_orders": [_maker_order(trade)],
        "trader_side": "TAKER" if viewer_is_taker else "MAKER",
    }


def rest_trade(trade: Trade, viewer_is_taker: bool) -> dict:
    body = _trade_body(trade, viewer_is_taker)
    body["status"] = REST_TRADE_STATUS_PREFIX + trade.status
    return body


def trade_event(trade: Trade, viewer_is_taker: bool, timestamp_ms: int) -> dict:
    body = _trade_body(trade, viewer_is_taker)
    body.update(
        status=trade.status, event_type="trade", type="TRADE", trade_owner=body["owner"],
        timestamp=str(timestamp_ms),
    )
    return body
