"""Public market lists besides GET /markets: /sampling-markets, /simplified-markets,
/sampling-simplified-markets (cursor pages as /markets: base64 offset, "MA==" first, "LTE=" at the end), and
GET /prices-history (`market` = token id; `startTs` + `endTs` or `interval`; `fidelity` in minutes) ->
`{"history": [{"t": seconds, "p": price}]}` from the exchange's own trades (py-clob-client-v2
get_prices_history, polymarket-protocol.md §3.1)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.http import JSON, query
from paperexchange.api.rest_markets import clob_market
from paperexchange.core import errors
from paperexchange.core.errors import VenueError
from paperexchange.core.exchange import Exchange
from paperexchange.core.markets import Market
from paperexchange.core.units import PRICE_SCALE

END_CURSOR = "LTE="
PAGE_SIZE = 100
INTERVALS = {"1h": 3_600, "6h": 6 * 3_600, "1d": 86_400, "1w": 7 * 86_400, "1m": 30 * 86_400, "max": None}


def _exchange(request: Request) -> Exchange:
    return request.app.state.exchange


def _simplified(market: Market, exchange: Exchange) -> dict:
    full = clob_market(market, exchange)
    return {
        key: full[key]
        for key in ("condition_id", "rewards", "tokens", "active", "closed", "archived", "accepting_orders")
    }


def _sampled(market: Market) -> bool:
    """Reward sampling takes open markets that accept orders (paper markets carry no reward rates)."""
    return market.active and not market.closed and market.accepting_orders


def _page(request: Request, markets: list[Market], view: Callable[[Market, Exchange], dict]) -> Response:
    cursor = request.query_params.get("next_cursor") or "MA=="
    if cursor == END_CURSOR:
        return JSON({"data": [], "next_cursor": END_CURSOR, "limit": PAGE_SIZE, "count": 0})
    try:
        offset = int(base64.b64decode(cursor).decode())
    except ValueError:
        raise VenueError(errors.BAD_REQUEST) from None
    page = [view(m, _exchange(request)) for m in markets[offset : offset + PAGE_SIZE]]
    end = offset + PAGE_SIZE >= len(markets)
    next_cursor = END_CURSOR if end else base64.b64encode(str(offset + PAGE_SIZE).encode()).decode()
    return JSON({"data": page, "next_cursor": next_cursor, "limit": PAGE_SIZE, "count": len(page)})


async def sampling_markets(request: Request) -> Response:
    return _page(request, [m for m in _exchange(request).markets.all() if _sampled(m)], clob_market)


async def simplified_markets(request: Request) -> Response:
    return _page(request, _exchange(request).markets.all(), _simplified)


async def sampling_simplified_markets(request: Request) -> Response:
    return _page(request, [m for m in _exchange(request).markets.all() if _sampled(m)], _simplified)


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    try:
        return None if value is None else int(value)
    except ValueError:
        raise VenueError(errors.BAD_REQUEST) from None


async def prices_history(request: Request) -> Response:
    exchange = _exchange(request)
    token_id = query(request, "market")
    market = exchange.markets.by_token(token_id)
    if market is None:
        raise VenueError(errors.NOT_FOUND, 404)
    now = int(exchange.clock.now())
    start, end = _int_param(request, "startTs"), _int_param(request, "endTs")
    interval = request.query_params.get("interval")
    if interval is not None:
        if interval not in INTERVALS:
            raise VenueError(errors.BAD_REQUEST)
        span = INTERVALS[interval]
        start, end = (0 if span is None else now - span), now
    elif start is None or end is None:
        raise VenueError(errors.BAD_REQUEST)
    step = 60 * max(1, _int_param(request, "fidelity") or 1)
    points: dict[int, int] = {}  # bucket start -> last YES price traded in it
    for trade in exchange.trades.values():
        if trade.market is market and trade.status != "FAILED" and start <= trade.match_time <= end:
            points[trade.match_time - trade.match_time % step] = trade.yes_price
    yes = market.is_yes(token_id)
    history = [
        {"t": t, "p": (p if yes else PRICE_SCALE - p) / PRICE_SCALE} for t, p in sorted(points.items())
    ]
    return JSON({"history": history})


ROUTES = [
    Route("/sampling-markets", sampling_markets),
    Route("/simplified-markets", simplified_markets),
    Route("/sampling-simplified-markets", sampling_simplified_markets),
    Route("/prices-history", prices_history),
]
