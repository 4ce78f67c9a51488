"""The admin API under /_paper (mounted only with --admin): markets, funding, inspection, fault injection.

Not a Polymarket API: tests and benchmarks use it to set up state and look inside. Amounts are decimal
pUSD / shares as strings or numbers, like the venue's own JSON.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api import admin_faults, wallets
from paperexchange.api.http import JSON, body_text, parse_json
from paperexchange.api.rest_markets import clob_market
from paperexchange.core import config, errors, wire
from paperexchange.core.errors import VenueError
from paperexchange.core.funds import spenders
from paperexchange.core.ledger import COLLATERAL, MAX_ALLOWANCE
from paperexchange.core.markets import Market
from paperexchange.core.orders import exchange_for
from paperexchange.core.units import AMOUNT_SCALE, amount_str
from paperexchange.sim import benchmark
from paperexchange.venue import Venue

MARKET_FIELDS = (
    "question",
    "outcomes",
    "tick_size",
    "min_order_size",
    "neg_risk",
    "fee_rate",
    "fee_exponent",
    "taker_delay",
    "slug",
    "description",
    "tags",
)


def _venue(request: Request) -> Venue:
    return request.app.state.venue


async def _body(request: Request) -> dict:
    body = parse_json(await body_text(request)) or {}
    if not isinstance(body, dict):
        raise VenueError(errors.BAD_REQUEST)
    return body


def _market_view(venue: Venue, market: Market) -> dict:
    return {
        **clob_market(market, venue.exchange),
        "token_ids": list(market.token_ids),
        "fee_rate": str(market.fee_rate),
        "fee_exponent": str(market.fee_exponent),
        "exchange": exchange_for(market),
    }


def _market_args(body: dict) -> dict:
    args = {name: body[name] for name in MARKET_FIELDS if name in body}
    if "outcomes" in args:
        args["outcomes"] = tuple(args["outcomes"])
    for name in ("fee_rate", "fee_exponent"):
        if name in args:
            args[name] = str(args[name])
    return args


async def create_market(request: Request) -> Response:
    venue = _venue(request)
    try:
        market = venue.create_market(**_market_args(await _body(request)))
    except (TypeError, ValueError) as exc:
        raise VenueError(str(exc)) from None
    return JSON(_market_view(venue, market))


async def create_event(request: Request) -> Response:
    venue, body = _venue(request), await _body(request)
    args = _market_args({k: v for k, v in body.items() if k not in ("title", "outcomes")})
    try:
        created = venue.create_neg_risk_event(
            title=str(body["title"]), outcomes=list(body["outcomes"]), **args
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VenueError(str(exc)) from None
    return JSON([_market_view(venue, market) for market in created])


async def list_markets(request: Request) -> Response:
    venue = _venue(request)
    return JSON([_market_view(venue, market) for market in venue.exchange.markets.all()])


def _units(value: object) -> int:
    return int(Decimal(str(value)) * AMOUNT_SCALE)


async def fund(request: Request) -> Response:
    """{address, collateral?, tokens?: {token_id: shares}, approve?: true} -> set balances (and approvals)."""
    venue, body = _venue(request), await _body(request)
    ledger, address = venue.exchange.ledger, str(body.get("address", ""))
    if not address.startswith("0x"):
        raise VenueError(errors.BAD_REQUEST)
    if "collateral" in body:
        ledger.set_balance(address, COLLATERAL, _units(body["collateral"]))
    for token_id, shares in (body.get("tokens") or {}).items():
        ledger.set_balance(address, str(token_id), _units(shares))
    if body.get("approve", True):
        for spender in (*spenders(), config.CTF_COLLATERAL_ADAPTER, config.NEG_RISK_CTF_COLLATERAL_ADAPTER):
            ledger.set_allowance(address, spender, MAX_ALLOWANCE)
            ledger.set_approval_for_all(address, spender, True)
    return JSON(_balances(venue, address))


def _balances(venue: Venue, address: str) -> dict:
    ledger = venue.exchange.ledger
    return {
        "address": address,
        "balances": {asset: amount_str(amount) for asset, amount in ledger.holdings(address).items()},
        "reserved": {
            asset: amount_str(ledger.reserved(address, asset)) for asset in ledger.holdings(address)
        },
    }


async def balances(request: Request) -> Response:
    return JSON(_balances(_venue(request), request.path_params["address"]))


async def register_wallet(request: Request) -> Response:
    """{wallet, owner, signature_type}: a proxy / Safe / deposit wallet and the EOA that signs for it."""
    venue, body = _venue(request), await _body(request)
    try:
        wallet, owner, signature_type = str(body["wallet"]), str(body["owner"]), int(body["signature_type"])
    except (KeyError, ValueError, TypeError):
        raise VenueError(errors.BAD_REQUEST) from None
    wallets.check_registration(wallet, owner, signature_type)
    venue.exchange.wallets[wallet.lower()] = (owner, signature_type)
    return JSON({"ok": True})


async def all_orders(request: Request) -> Response:
    exchange = _venue(request).exchange
    return JSON(
        [
            # The venue's own status (a partly filled, cancelled order is CANCELED here; REST reads it MATCHED).
            {
                **wire.open_order(order, exchange.markets.of_order(order.condition_id)),
                "status": order.status,
                "internal": order.internal,
            }
            for order in exchange.orders.values()
        ]
    )


async def all_trades(request: Request) -> Response:
    exchange = _venue(request).exchange
    return JSON(
        [
            {**wire.rest_trade(trade, "TAKER"), "status": trade.status, "fee": amount_str(trade.fee)}
            for trade in exchange.trades.values()
        ]
    )


async def house_orders(request: Request) -> Response:
    """[{token_id, side, price, size}]: unsigned house orders, for seeding books and generating flow."""
    venue, items = _venue(request), parse_json(await body_text(request))
    if not isinstance(items, list):
        raise VenueError(errors.BAD_REQUEST)
    try:
        return JSON(
            [
                venue.house_order(str(i["token_id"]), str(i["side"]), str(i["price"]), str(i["size"]))
                for i in items
            ]
        )
    except (KeyError, ValueError) as exc:
        raise VenueError(str(exc)) from None


async def cancel_any(request: Request) -> Response:
    """{order_ids: [...]}: cancel orders whoever owns them (house orders included)."""
    exchange, body = _venue(request).exchange, await _body(request)
    result: dict = {"canceled": [], "not_canceled": {}}
    for order_id in body.get("order_ids") or []:
        order = exchange.orders.get(str(order_id))
        owner = order.owner if order is not None else ""
        partial = exchange.cancel(owner, [str(order_id)])
        result["canceled"] += partial["canceled"]
        result["not_canceled"].update(partial["not_canceled"])
    return JSON(result)


async def faults(request: Request) -> Response:
    """{fail_next_trades?: n, fail_market?: condition_id, settlement_delay_secs?: s, expire_heartbeats?: true}."""
    venue, body = _venue(request), await _body(request)
    if "fail_next_trades" in body:
        venue.settlement.fail_next(int(body["fail_next_trades"]))
    if "fail_market" in body:
        venue.settlement.fail_market(str(body["fail_market"]), bool(body.get("enabled", True)))
    if "settlement_delay_secs" in body:
        venue.settlement.set_fast(float(body["settlement_delay_secs"]))
    return JSON({"ok": True})


def _market(request: Request) -> Market:
    market = _venue(request).exchange.markets.by_condition(request.path_params["condition_id"])
    if market is None:
        raise VenueError(errors.NOT_FOUND, 404)
    return market


async def tick_size(request: Request) -> Response:
    body = await _body(request)
    try:
        _venue(request).change_tick_size(_market(request), str(body["tick_size"]))
    except (KeyError, ValueError) as exc:
        raise VenueError(str(exc)) from None
    return JSON({"ok": True})


async def resolve(request: Request) -> Response:
    market, body = _market(request), await _body(request)
    winner = str(body.get("winning_asset_id") or market.token_ids[0])
    if winner not in market.token_ids:
        raise VenueError(errors.BAD_REQUEST)
    _venue(request).resolve(market, winner)
    return JSON({"ok": True})


async def scenario(request: Request) -> Response:
    """The running scenario: market keys -> condition ids, its wallets (whales marked), recent flow log."""
    flow = _venue(request).flow
    if flow is None:
        raise VenueError(errors.NOT_FOUND, 404)
    return JSON(flow.describe())


ROUTES = [
    Route("/scenario", scenario),
    Route("/markets", create_market, methods=["POST"]),
    Route("/markets", list_markets),
    Route("/events", create_event, methods=["POST"]),
    Route("/markets/{condition_id}/tick-size", tick_size, methods=["POST"]),
    Route("/markets/{condition_id}/resolve", resolve, methods=["POST"]),
    Route("/fund", fund, methods=["POST"]),
    Route("/balances/{address}", balances),
    Route("/wallets", register_wallet, methods=["POST"]),
    Route("/orders", all_orders),
    Route("/orders", house_orders, methods=["POST"]),
    Route("/trades", all_trades),
    Route("/cancel", cancel_any, methods=["POST"]),
    Route("/faults", faults, methods=["POST"]),
    *admin_faults.ROUTES,
    *benchmark.ROUTES,
]
