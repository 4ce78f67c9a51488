"""JSON shapes of orders and trades as the venue sends them (REST and user channel), field names verbatim."""

from __future__ import annotations

from paperexchange.core.engine import Order
from paperexchange.core.markets import Market
from paperexchange.core.trades import MakerPart, Trade, fee_rate_bps
from paperexchange.core.units import amount_str, decimal_str, price_str

# REST trade listings carry the raw status constants; the user channel sends them plain (SDK comment in
# polymarket-client models/clob/account.py, ../shared/polymarket-protocol.md §3.1).
REST_TRADE_STATUS_PREFIX = "TRADE_STATUS_"


def rest_order_status(order: Order) -> str:
    """REST reads a terminated order that traded as MATCHED, filled or not: a GTC partly filled and then
    cancelled is MATCHED with size_matched < original_size (NautilusTrader issue #4787 / PR #4795:
    "Polymarket reports a terminated order as MATCHED whether or not it filled completely"). The user
    channel's CANCELLATION still says CANCELED."""
    if order.status.startswith("CANCELED") and order.matched > 0:
        return "MATCHED"
    return order.status


def open_order(order: Order, market: Market) -> dict:
    """OpenOrder as GET /data/order/{id} and /data/orders return it (http_open_order.json)."""
    return {
        "id": order.id,
        "status": rest_order_status(order),
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


def _maker_order(part: MakerPart, market: Market) -> dict:
    maker = part.order
    return {
        "order_id": maker.id,
        "owner": maker.owner,
        "maker_address": maker.maker,
        "matched_amount": amount_str(part.size),
        "price": price_str(part.price),
        "fee_rate_bps": "0",
        "asset_id": maker.token_id,
        "side": maker.side,
        "outcome": market.outcome_of(maker.token_id),
        "outcome_index": 0 if market.is_yes(maker.token_id) else 1,
    }


def _trade_body(trade: Trade, trader_side: str) -> dict:
    """The trade as every party sees it: top-level fields are the taker's (id, side, asset, size = the taker's
    whole fill, price = its average, owner and maker_address); a maker finds itself in `maker_orders[]`
    (user_trade1.json: trader_side MAKER, owner/trade_owner/maker_address the taker's)."""
    taker, market = trade.taker, trade.market
    return {
        "id": trade.id,
        "taker_order_id": taker.id,
        "market": market.condition_id,
        "asset_id": taker.token_id,
        "side": taker.side,
        "size": amount_str(trade.size),
        "fee_rate_bps": fee_rate_bps(market),
        "price": decimal_str(trade.taker_price()),
        "match_time": str(trade.match_time),
        "last_update": str(trade.last_update or trade.match_time),
        "outcome": market.outcome_of(taker.token_id),
        "bucket_index": 0,
        "owner": taker.owner,
        "maker_address": taker.maker,
        "transaction_hash": trade.transaction_hash,
        "maker_orders": [_maker_order(part, market) for part in trade.parts],
        "trader_side": trader_side,
    }


def rest_trade(trade: Trade, trader_side: str) -> dict:
    body = _trade_body(trade, trader_side)
    body["status"] = REST_TRADE_STATUS_PREFIX + trade.status
    return body


def trade_event(trade: Trade, trader_side: str, timestamp_ms: int) -> dict:
    body = _trade_body(trade, trader_side)
    body.update(
        status=trade.status,
        event_type="trade",
        type="TRADE",
        trade_owner=body["owner"],
        timestamp=str(timestamp_ms),
    )
    return body
