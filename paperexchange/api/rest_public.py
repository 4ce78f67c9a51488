"""Public (L0) CLOB routes: health, time, version, books, prices, market metadata."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from paperexchange.api.http import JSON, body_text, parse_json, query
from paperexchange.api.rest_markets import clob_market, compact_market
from paperexchange.core import bookview, errors
from paperexchange.core.errors import VenueError
from paperexchange.core.exchange import Exchange
from paperexchange.core.markets import Market
from paperexchange.core.units import parse_price, price_str

NO_BOOK = "No orderbook exists for the requested token id"
END_CURSOR = "LTE="
PAGE_SIZE = 100


def _exchange(request: Request) -> Exchange:
    return request.app.state.exchange


def _market_of(exchange: Exchange, token_id: str) -> Market:
    market = exchange.markets.by_token(token_id)
    if market is None:
        raise VenueError(NO_BOOK, 404)
    return market


def _book(exchange: Exchange, token_id: str) -> dict:
    market = _market_of(exchange, token_id)
    return bookview.book_summary(
        market,
        exchange.book(market.condition_id),
        token_id,
        str(exchange.now_ms()),
        exchange.last_yes_price(market.condition_id),
    )


def _tops(exchange: Exchange, token_id: str) -> tuple[str, str]:
    market = _market_of(exchange, token_id)
    return bookview.best_bid_ask(exchange.book(market.condition_id), market, token_id)


def _mid(exchange: Exchange, token_id: str) -> str:
    bid, ask = _tops(exchange, token_id)
    return price_str((parse_price(bid) + parse_price(ask)) // 2)


def _price(exchange: Exchange, token_id: str, side: str) -> str:
    """The venue's mapping (docs.polymarket.com api-reference/market-data/get-market-price: "Returns the best
    bid price for BUY side or best ask price for SELL side"): the price a BUY order would rest at, not
    the one it would execute against. A side other than BUY or SELL is refused."""
    side = side.upper()
    if side not in ("BUY", "SELL"):
        raise VenueError(errors.INVALID_SIDE)
    bid, ask = _tops(exchange, token_id)
    return bid if side == "BUY" else ask


def _last_trade(exchange: Exchange, token_id: str) -> dict:
    market = _market_of(exchange, token_id)
    last = exchange.last_trade.get(market.condition_id)
    if last is None:
        return {"price": "0.5", "side": ""}
    yes_price, yes_side = last
    if market.is_yes(token_id):
        return {"price": price_str(yes_price), "side": yes_side}
    return {"price": price_str(10_000 - yes_price), "side": "SELL" if yes_side == "BUY" else "BUY"}


def _token_list(body: object) -> list[dict]:
    if not isinstance(body, list) or not all(
        isinstance(item, dict) and item.get("token_id") for item in body
    ):
        raise VenueError(errors.BAD_REQUEST)
    return body


async def ok(request: Request) -> Response:
    return PlainTextResponse("OK")


async def server_time(request: Request) -> Response:
    return JSON(int(_exchange(request).clock.now()))


async def version(request: Request) -> Response:
    return JSON({"version": 2})


async def book(request: Request) -> Response:
    return JSON(_book(_exchange(request), query(request, "token_id")))


async def books(request: Request) -> Response:
    items = _token_list(parse_json(await body_text(request)))
    return JSON([_book(_exchange(request), item["token_id"]) for item in items])


async def tick_size(request: Request) -> Response:
    market = _market_of(_exchange(request), query(request, "token_id"))
    return JSON({"minimum_tick_size": float(market.tick_size)})


async def neg_risk(request: Request) -> Response:
    return JSON({"neg_risk": _market_of(_exchange(request), query(request, "token_id")).neg_risk})


async def fee_rate(request: Request) -> Response:
    market = _market_of(_exchange(request), query(request, "token_id"))
    return JSON({"base_fee": market.taker_base_fee_bps})


async def midpoint(request: Request) -> Response:
    return JSON({"mid": _mid(_exchange(request), query(request, "token_id"))})


async def midpoints(request: Request) -> Response:
    items = _token_list(parse_json(await body_text(request)))
    return JSON({item["token_id"]: _mid(_exchange(request), item["token_id"]) for item in items})


async def price(request: Request) -> Response:
    return JSON({"price": _price(_exchange(request), query(request, "token_id"), query(request, "side"))})


def _prices_of(exchange: Exchange, pairs: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for token_id, side in pairs:
        result.setdefault(token_id, {})[side.upper()] = _price(exchange, token_id, side)
    return result


async def prices(request: Request) -> Response:
    """POST /prices: [{token_id, side}], both required in every item (get-market-prices-request-body)."""
    items = _token_list(parse_json(await body_text(request)))
    if not all(item.get("side") for item in items):
        raise VenueError(errors.INVALID_SIDE)
    return JSON(_prices_of(_exchange(request), [(item["token_id"], str(item["side"])) for item in items]))


async def prices_query(request: Request) -> Response:
    """GET /prices?token_ids=a,b&sides=BUY,SELL: comma-separated, paired by position
    (get-market-prices-query-parameters)."""
    token_ids = [t for t in query(request, "token_ids").split(",") if t]
    sides = [s for s in query(request, "sides").split(",") if s]
    if not token_ids or len(token_ids) != len(sides):
        raise VenueError(errors.BAD_REQUEST)
    return JSON(_prices_of(_exchange(request), list(zip(token_ids, sides))))


async def spread(request: Request) -> Response:
    bid, ask = _tops(_exchange(request), query(request, "token_id"))
    return JSON({"spread": price_str(parse_price(ask) - parse_price(bid))})


async def spreads(request: Request) -> Response:
    result = {}
    for item in _token_list(parse_json(await body_text(request))):
        bid, ask = _tops(_exchange(request), item["token_id"])
        result[item["token_id"]] = price_str(parse_price(ask) - parse_price(bid))
    return JSON(result)


async def last_trade_price(request: Request) -> Response:
    return JSON(_last_trade(_exchange(request), query(request, "token_id")))


async def last_trades_prices(request: Request) -> Response:
    """Only tokens that traded: the single read answers `side: ""` without a trade (polymarket-client maps
    it to None), but the batch's item model needs BUY/SELL, so a token without trades is left out."""
    items = _token_list(parse_json(await body_text(request)))
    rows = [{"token_id": i["token_id"], **_last_trade(_exchange(request), i["token_id"])} for i in items]
    return JSON([row for row in rows if row["side"]])


def _condition(request: Request) -> Market:
    market = _exchange(request).markets.by_condition(request.path_params["condition_id"])
    if market is None:
        raise VenueError(errors.NOT_FOUND, 404)
    return market


async def clob_market_info(request: Request) -> Response:
    return JSON(compact_market(_condition(request)))


async def market(request: Request) -> Response:
    exchange = _exchange(request)
    return JSON(clob_market(_condition(request), exchange))


async def market_by_token(request: Request) -> Response:
    found = _exchange(request).markets.by_token(request.path_params["token_id"])
    if found is None:
        raise VenueError(errors.NOT_FOUND, 404)
    return JSON(
        {
            "condition_id": found.condition_id,
            "primary_token_id": found.token_ids[0],
            "secondary_token_id": found.token_ids[1],
        }
    )


async def markets(request: Request) -> Response:
    """Cursor pagination as the venue does it: base64 of the offset, "MA==" first, "LTE=" at the end."""
    exchange = _exchange(request)
    cursor = request.query_params.get("next_cursor") or "MA=="
    if cursor == END_CURSOR:
        return JSON({"data": [], "next_cursor": END_CURSOR, "limit": PAGE_SIZE, "count": 0})
    try:
        offset = int(base64.b64decode(cursor).decode())
    except ValueError:
        raise VenueError(errors.BAD_REQUEST) from None
    all_markets = exchange.markets.all()
    page = [clob_market(m, exchange) for m in all_markets[offset : offset + PAGE_SIZE]]
    end = offset + PAGE_SIZE >= len(all_markets)
    next_cursor = END_CURSOR if end else base64.b64encode(str(offset + PAGE_SIZE).encode()).decode()
    return JSON({"data": page, "next_cursor": next_cursor, "limit": PAGE_SIZE, "count": len(page)})


ROUTES = [
    Route("/ok", ok),
    Route("/time", server_time),
    Route("/version", version),
    Route("/book", book),
    Route("/books", books, methods=["POST"]),
    Route("/tick-size", tick_size),
    Route("/neg-risk", neg_risk),
    Route("/fee-rate", fee_rate),
    Route("/midpoint", midpoint),
    Route("/midpoints", midpoints, methods=["POST"]),
    Route("/price", price),
    Route("/prices", prices, methods=["POST"]),
    Route("/prices", prices_query, methods=["GET"]),
    Route("/spread", spread),
    Route("/spreads", spreads, methods=["POST"]),
    Route("/last-trade-price", last_trade_price),
    Route("/last-trades-prices", last_trades_prices, methods=["POST"]),
    Route("/clob-markets/{condition_id}", clob_market_info),
    Route("/markets-by-token/{token_id}", market_by_token),
    Route("/markets", markets),
    Route("/markets/{condition_id}", market),
]
