"""Authenticated CLOB routes: API keys (L1), and orders, cancels, account data, heartbeats (L2)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from paperexchange.api.http import JSON, body_text, error, parse_json
from paperexchange.core import auth, errors, funds, wire
from paperexchange.core.auth import ApiKey
from paperexchange.core.errors import VenueError
from paperexchange.core.exchange import Exchange
from paperexchange.core.heartbeats import HeartbeatMismatch
from paperexchange.core.ledger import COLLATERAL
from paperexchange.core.orders import parse_order

MAX_POST_BATCH = 15
MAX_CANCEL_BATCH = 1000
END_CURSOR = "LTE="


def _exchange(request: Request) -> Exchange:
    return request.app.state.exchange


async def _l2(request: Request) -> tuple[ApiKey, str]:
    body = await body_text(request)
    key = auth.verify_l2(
        _exchange(request).keys,
        request.headers,
        request.method,
        request.url.path,
        body,
        request.app.state.settings.auth_window_secs,
    )
    return key, body


# ---- API keys ---------------------------------------------------------------------------------


async def create_api_key(request: Request) -> Response:
    address, nonce = auth.verify_l1(request.headers, request.app.state.settings.auth_window_secs)
    return JSON(_exchange(request).keys.create(address, nonce).creds())


async def derive_api_key(request: Request) -> Response:
    address, nonce = auth.verify_l1(request.headers, request.app.state.settings.auth_window_secs)
    return JSON(_exchange(request).keys.derive(address, nonce).creds())


async def list_api_keys(request: Request) -> Response:
    key, _ = await _l2(request)
    return JSON({"apiKeys": _exchange(request).keys.keys_of(key.address)})


async def delete_api_key(request: Request) -> Response:
    key, _ = await _l2(request)
    _exchange(request).keys.delete(key.key)
    return JSON("OK")


async def closed_only(request: Request) -> Response:
    await _l2(request)
    return JSON({"closed_only": False})


# ---- orders -----------------------------------------------------------------------------------


def _post_one(request: Request, key: ApiKey, body: object) -> dict:
    exchange = _exchange(request)
    posted = parse_order(
        body,
        key=key,
        markets=exchange.markets,
        wallet_owner=exchange.wallet_owner,
        now=exchange.clock.now(),
        gtd_lead_secs=request.app.state.settings.gtd_min_lead_secs,
    )
    return exchange.post(posted)


async def post_order(request: Request) -> Response:
    key, body = await _l2(request)
    return JSON(_post_one(request, key, parse_json(body)))


def _rejected(message: str) -> dict:
    return {
        "success": False,
        "errorMsg": message,
        "orderID": "",
        "status": "",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
        "transactionsHashes": [],
    }


async def post_orders(request: Request) -> Response:
    key, body = await _l2(request)
    items = parse_json(body)
    if not isinstance(items, list) or not items:
        raise VenueError(errors.INVALID_PAYLOAD)
    if len(items) > MAX_POST_BATCH:
        raise VenueError(errors.TOO_MANY_ORDERS.format(limit=MAX_POST_BATCH))
    results = []
    for item in items:
        try:
            results.append(_post_one(request, key, item))
        except VenueError as exc:
            results.append(_rejected(exc.message))
    return JSON(results)


async def cancel_order(request: Request) -> Response:
    key, body = await _l2(request)
    payload = parse_json(body)
    if not isinstance(payload, dict) or not payload.get("orderID"):
        raise VenueError(errors.INVALID_PAYLOAD)
    return JSON(_exchange(request).cancel(key.key, [str(payload["orderID"])]))


async def cancel_orders(request: Request) -> Response:
    key, body = await _l2(request)
    ids = parse_json(body)
    if not isinstance(ids, list):
        raise VenueError(errors.INVALID_PAYLOAD)
    if len(ids) > MAX_CANCEL_BATCH:
        raise VenueError(errors.TOO_MANY_ORDERS.format(limit=MAX_CANCEL_BATCH))
    return JSON(_exchange(request).cancel(key.key, [str(order_id) for order_id in ids]))


async def cancel_all(request: Request) -> Response:
    key, _ = await _l2(request)
    return JSON(_exchange(request).cancel_all(key.key))


async def cancel_market_orders(request: Request) -> Response:
    key, body = await _l2(request)
    payload = parse_json(body) or {}
    if not isinstance(payload, dict):
        raise VenueError(errors.INVALID_PAYLOAD)
    return JSON(_exchange(request).cancel_market(key.key, payload.get("market"), payload.get("asset_id")))


# ---- account data -----------------------------------------------------------------------------


async def get_order(request: Request) -> Response:
    key, _ = await _l2(request)
    exchange = _exchange(request)
    order = exchange.orders.get(request.path_params["order_id"])
    if order is None or order.owner != key.key:
        return error(errors.ORDER_NOT_FOUND, 404)
    return JSON(wire.open_order(order, exchange.markets.of_order(order.condition_id)))


async def list_orders(request: Request) -> Response:
    key, _ = await _l2(request)
    exchange, params = _exchange(request), request.query_params
    data = [
        wire.open_order(order, exchange.markets.of_order(order.condition_id))
        for order in sorted(exchange.live_of.get(key.key, {}).values(), key=lambda o: o.seq)
        if (not params.get("id") or order.id == params["id"])
        and (not params.get("market") or order.condition_id == params["market"])
        and (not params.get("asset_id") or order.token_id == params["asset_id"])
    ]
    return JSON({"data": data, "next_cursor": END_CURSOR, "limit": len(data), "count": len(data)})


def _trade_matches(trade, params) -> bool:
    ids = {order.token_id for order in (trade.taker, *trade.makers)}
    return (
        (not params.get("id") or trade.id == params["id"])
        and (not params.get("market") or trade.market.condition_id == params["market"])
        and (not params.get("asset_id") or params["asset_id"] in ids)
        and (
            not params.get("maker_address")
            or params["maker_address"].lower()
            in {order.maker.lower() for order in (trade.taker, *trade.makers)}
        )
        and (not params.get("before") or trade.match_time < int(params["before"]))
        and (not params.get("after") or trade.match_time > int(params["after"]))
    )


async def list_trades(request: Request) -> Response:
    key, _ = await _l2(request)
    params = request.query_params
    data = [
        wire.rest_trade(trade, "TAKER" if trade.taker.owner == key.key else "MAKER")
        for trade in _exchange(request).trades_of.get(key.key, [])
        if _trade_matches(trade, params)
    ]
    return JSON({"data": data, "next_cursor": END_CURSOR, "limit": len(data), "count": len(data)})


def _funder(exchange: Exchange, key: ApiKey, signature_type: int) -> str:
    if signature_type == 0:
        return key.address
    for wallet, (owner, sig_type) in exchange.wallets.items():
        if owner.lower() == key.address.lower() and sig_type == signature_type:
            return wallet
    return key.address


async def balance_allowance(request: Request) -> Response:
    key, _ = await _l2(request)
    exchange, params = _exchange(request), request.query_params
    asset_type = params.get("asset_type", "COLLATERAL")
    asset = COLLATERAL if asset_type == "COLLATERAL" else params.get("token_id", "")
    if not asset:
        raise VenueError(errors.BAD_REQUEST)
    funder = _funder(exchange, key, int(params.get("signature_type") or 0))
    return JSON(
        {
            "balance": str(exchange.ledger.balance(funder, asset)),
            "allowances": exchange.ledger.allowances_view(funder, asset, funds.spenders()),
        }
    )


async def update_balance_allowance(request: Request) -> Response:
    # The paper ledger is its own chain: there is no cache to refresh, so this only authenticates.
    await _l2(request)
    return PlainTextResponse("")


async def heartbeat(request: Request) -> Response:
    key, body = await _l2(request)
    payload = parse_json(body) or {}
    heartbeat_id = str(payload.get("heartbeat_id") or "") if isinstance(payload, dict) else ""
    try:
        return JSON({"heartbeat_id": request.app.state.heartbeats.beat(key.key, heartbeat_id)})
    except HeartbeatMismatch as exc:
        return JSON(
            {"error": exc.message, "error_msg": exc.message, "heartbeat_id": exc.expected_id}, status_code=400
        )


ROUTES = [
    Route("/auth/api-key", create_api_key, methods=["POST"]),
    Route("/auth/api-key", delete_api_key, methods=["DELETE"]),
    Route("/auth/derive-api-key", derive_api_key),
    Route("/auth/api-keys", list_api_keys),
    Route("/auth/ban-status/closed-only", closed_only),
    Route("/order", post_order, methods=["POST"]),
    Route("/order", cancel_order, methods=["DELETE"]),
    Route("/orders", post_orders, methods=["POST"]),
    Route("/orders", cancel_orders, methods=["DELETE"]),
    Route("/cancel-all", cancel_all, methods=["DELETE"]),
    Route("/cancel-market-orders", cancel_market_orders, methods=["DELETE"]),
    Route("/data/order/{order_id}", get_order),
    Route("/data/orders", list_orders),
    Route("/data/trades", list_trades),
    Route("/balance-allowance", balance_allowance),
    Route("/balance-allowance/update", update_balance_allowance),
    Route("/v1/heartbeats", heartbeat, methods=["POST"]),
]
