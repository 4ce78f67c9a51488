"""Data API under /data-api, fed by the exchange's own trades and balances: v2 (`/v2/trades`,
`/v2/activity`, `/v2/positions`: snake_case, `{data, pagination}` envelope, `cursor` + `limit`) and v1
(`/trades`, `/activity`, `/positions`: camelCase arrays, `limit` + `offset`). A miss is an empty page.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.gamma import events
from paperexchange.api.gamma_views import outcome_prices
from paperexchange.api.http import JSON
from paperexchange.core.activity import Fill, cost_basis
from paperexchange.core.errors import VenueError
from paperexchange.core.ledger import COLLATERAL
from paperexchange.core.markets import Market
from paperexchange.core.units import AMOUNT_SCALE
from paperexchange.venue import Venue

MAX_V2_LIMIT = 1000
DEFAULT_LIMIT = 100
# v2 snake_case name -> v1 camelCase name; fields not listed keep their name.
V1_NAMES = {
    "proxy_wallet": "proxyWallet",
    "token_id": "asset",
    "condition_id": "conditionId",
    "event_slug": "eventSlug",
    "outcome_index": "outcomeIndex",
    "profile_image": "profileImage",
    "transaction_hash": "transactionHash",
    "profile_image_optimized": "profileImageOptimized",
    "usdc_size": "usdcSize",
    "current_size": "size",
    "avg_price": "avgPrice",
    "entry_cost_usdc": "initialValue",
    "current_value": "currentValue",
    "unrealized_pnl": "cashPnl",
    "percent_pnl": "percentPnl",
    "total_cost_usdc": "totalBought",
    "realized_pnl": "realizedPnl",
    "percent_realized_pnl": "percentRealizedPnl",
    "current_price": "curPrice",
    "opposite_outcome": "oppositeOutcome",
    "opposite_token_id": "oppositeAsset",
    "end_date": "endDate",
    "negative_risk": "negativeRisk",
    "event_id": "eventId",
}


def _venue(request: Request) -> Venue:
    return request.app.state.venue


def _profile(wallet: str) -> dict:
    return {
        "name": "",
        "pseudonym": f"Paper-{wallet[2:8]}",
        "bio": "",
        "profile_image": "",
        "profile_image_optimized": "",
    }


def _market_fields(market: Market, token_id: str) -> dict:
    index = 0 if market.is_yes(token_id) else 1
    return {
        "title": market.question,
        "slug": market.slug,
        "icon": "",
        "event_slug": market.event_slug or market.slug,
        "outcome": market.outcomes[index],
        "outcome_index": index,
    }


def trade_row(fill: Fill) -> dict:
    market, order = fill.trade.market, fill.order
    return {
        "proxy_wallet": order.maker.lower(),
        "side": order.side,
        "token_id": order.token_id,
        "condition_id": market.condition_id,
        "size": fill.size,
        "price": fill.price,
        "timestamp": fill.trade.match_time,
        **_market_fields(market, order.token_id),
        **_profile(order.maker.lower()),
        "transaction_hash": fill.trade.transaction_hash,
    }


def activity_row(fill: Fill) -> dict:
    return {**trade_row(fill), "type": "TRADE", "usdc_size": fill.usdc}


def _event_ids(venue: Venue) -> dict[str, str]:
    return {m.condition_id: event.id for event in events(venue) for m in event.markets}


# ---- query helpers ------------------------------------------------------------------------------


def _many(request: Request, *names: str) -> set[str] | None:
    values = {
        part.lower()
        for name in names
        for value in request.query_params.getlist(name)
        for part in value.split(",")
        if part
    }
    return values or None


def _int(request: Request, name: str, default: int | None) -> int | None:
    value = request.query_params.get(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise VenueError(f"invalid {name}") from None


def _fills(request: Request, venue: Venue, taker_default: bool) -> list[Fill]:
    user = request.query_params.get("user")
    fills = venue.activity.of_wallet(user) if user else venue.activity.all()
    conditions = _many(request, "condition_id", "condition", "conditionId", "market")
    side = request.query_params.get("side")
    taker_param = request.query_params.get("taker_only", request.query_params.get("takerOnly"))
    taker_only = taker_default if taker_param is None else taker_param.lower() == "true"
    start, end = _int(request, "start", None), _int(request, "end", None)
    return [
        f
        for f in fills
        if (conditions is None or f.trade.market.condition_id.lower() in conditions)
        and (not side or f.order.side == side.upper())
        and (not taker_only or f.order is f.trade.taker)
        and (start is None or f.trade.match_time >= start)
        and (end is None or f.trade.match_time <= end)
    ]


def _newest_first(request: Request, rows: list[dict]) -> list[dict]:
    direction = request.query_params.get("sort_direction", request.query_params.get("sortDirection", "DESC"))
    ascending = direction.upper() == "ASC"
    return rows if ascending else list(reversed(rows))


def _v2_page(request: Request, rows: list[dict]) -> Response:
    cursor = request.query_params.get("cursor")
    try:
        start = int(base64.b64decode(cursor).decode()) if cursor else 0
    except ValueError:
        raise VenueError("invalid cursor") from None
    limit = min(_int(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_V2_LIMIT)
    end = start + limit
    more = end < len(rows)
    return JSON(
        {
            "data": rows[start:end],
            "pagination": {
                "has_more": more,
                "next_cursor": base64.b64encode(str(end).encode()).decode() if more else None,
            },
        }
    )


def _v1_page(request: Request, rows: list[dict]) -> Response:
    offset, limit = _int(request, "offset", 0) or 0, _int(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    return JSON([{V1_NAMES.get(k, k): v for k, v in row.items()} for row in rows[offset : offset + limit]])


# ---- trades and activity ------------------------------------------------------------------------


def _trade_rows(request: Request, taker_default: bool) -> list[dict]:
    venue = _venue(request)
    return _newest_first(request, [trade_row(f) for f in _fills(request, venue, taker_default)])


def _activity_rows(request: Request) -> list[dict]:
    venue = _venue(request)
    if not request.query_params.get("user"):
        raise VenueError("user is required")
    types = _many(request, "type")
    if types is not None and "trade" not in types:
        return []
    return _newest_first(request, [activity_row(f) for f in _fills(request, venue, False)])


async def v2_trades(request: Request) -> Response:
    return _v2_page(request, _trade_rows(request, taker_default=False))


async def v1_trades(request: Request) -> Response:
    return _v1_page(request, _trade_rows(request, taker_default=True))


async def v2_activity(request: Request) -> Response:
    return _v2_page(request, _activity_rows(request))


async def v1_activity(request: Request) -> Response:
    return _v1_page(request, _activity_rows(request))


# ---- positions ----------------------------------------------------------------------------------


def _status(market: Market, token_id: str) -> str:
    if market.winner is None:
        return "OPEN"
    return "REDEEMABLE" if market.winner == token_id else "REDEEMABLE_LOST"


def position_row(venue: Venue, wallet: str, market: Market, token_id: str, event_ids: dict[str, str]) -> dict:
    ledger, index = venue.exchange.ledger, 0 if market.is_yes(token_id) else 1
    size = ledger.balance(wallet, token_id) / AMOUNT_SCALE
    other = market.other_token(token_id)
    average, cost, realized = cost_basis(venue.activity.of_wallet(wallet), token_id)
    price = float(outcome_prices(market, venue.exchange)[index])
    value = size * price
    unrealized = value - average * size
    entry = average * size
    return {
        "proxy_wallet": wallet,
        "token_id": token_id,
        "condition_id": market.condition_id,
        "current_size": size,
        "avg_price": round(average, 6),
        "entry_cost_usdc": round(entry, 6),
        "entry_fees_usdc": 0.0,
        "total_cost_usdc": round(cost, 6),
        "current_price": price,
        "current_value": round(value, 6),
        "total_size": size,
        "realized_pnl": round(realized, 6),
        "unrealized_pnl": round(unrealized, 6),
        "total_pnl": round(realized + unrealized, 6),
        "percent_pnl": round(100 * unrealized / entry, 4) if entry else 0.0,
        "percent_realized_pnl": round(100 * realized / cost, 4) if cost else 0.0,
        "status": _status(market, token_id),
        "redeemable": market.winner is not None,
        "mergeable": ledger.balance(wallet, other) > 0,
        "negative_risk": market.neg_risk,
        "archived": False,
        **_market_fields(market, token_id),
        "event_id": event_ids.get(market.condition_id, ""),
        "opposite_outcome": market.outcomes[1 - index],
        "opposite_token_id": other,
        "end_date": market.end_date_iso[:10],
        "last_event_at": venue.activity.last_trade_time(market.condition_id) or int(market.created_at),
        "name": "",
        "profile_image": "",
        "verified": False,
    }


def _position_rows(request: Request) -> list[dict]:
    venue, user = _venue(request), request.query_params.get("user")
    if not user:
        raise VenueError("user is required")
    wallet, markets = user.lower(), venue.exchange.markets
    conditions = _many(request, "condition_id", "condition", "conditionId", "market")
    statuses = _many(request, "status")
    ids = _event_ids(venue)
    rows = []
    for asset, amount in venue.exchange.ledger.holdings(wallet).items():
        market = markets.by_token(asset) if asset != COLLATERAL else None
        if market is None or amount <= 0:
            continue
        if conditions is not None and market.condition_id.lower() not in conditions:
            continue
        if statuses is not None and _status(market, asset).lower() not in statuses:
            continue
        rows.append(position_row(venue, wallet, market, asset, ids))
    return sorted(rows, key=lambda row: -row["current_value"])


async def v2_positions(request: Request) -> Response:
    return _v2_page(request, _position_rows(request))


async def v1_positions(request: Request) -> Response:
    return _v1_page(request, _position_rows(request))


ROUTES = [
    Route("/v2/trades", v2_trades),
    Route("/v2/activity", v2_activity),
    Route("/v2/positions", v2_positions),
    Route("/trades", v1_trades),
    Route("/activity", v1_activity),
    Route("/positions", v1_positions),
]
