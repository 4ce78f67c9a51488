"""REST order rules and wire shapes: validation messages, batch limits, field names and types as captured,
and the admin API's separation from the Polymarket paths."""

from __future__ import annotations

import time

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from tests.fixtures import load_json


def _capture(name: str) -> dict:
    return load_json("polymarket-captures/" + name)


def _same_shape(ours: dict, captured: dict, optional: tuple[str, ...] = ()) -> None:
    assert set(captured) - set(optional) <= set(ours), set(captured) - set(ours)
    for key in set(captured) & set(ours):
        if captured[key] is not None and ours[key] is not None:
            assert type(ours[key]) is type(captured[key]), key


@pytest.mark.parametrize("price,size,message", [
    (0.305, 10, "INVALID_ORDER_MIN_TICK_SIZE"),
    (1.0, 10, "invalid price (1), min: 0.01 - max: 0.99"),
    (0.30, 4, "INVALID_ORDER_MIN_SIZE"),
])
def test_order_validation_messages(trader, market, price, size, message):
    response = trader.post("/order", trader.signed_order(market["token_ids"][0], "BUY", price, size))
    assert response.status_code == 400 and response.json()["error"].startswith(message)


def test_post_only_needs_a_resting_type_and_gtd_needs_a_minute(trader, market):
    token = market["token_ids"][0]
    fok = trader.post("/order", trader.signed_order(token, "BUY", 0.3, 10, order_type="FOK", post_only=True))
    assert fok.status_code == 400
    soon = str(int(time.time()) + 30)
    gtd = trader.post("/order", trader.signed_order(token, "BUY", 0.3, 10, order_type="GTD", expiration=soon))
    assert gtd.json() == {"error": "invalid expiration"}
    later = str(int(time.time()) + 300)
    ok = trader.post("/order", trader.signed_order(token, "BUY", 0.3, 10, order_type="GTD", expiration=later))
    assert ok.json()["status"] == "live"


def test_batch_limits(trader, market):
    token = market["token_ids"][0]
    orders = [trader.signed_order(token, "BUY", 0.1 + i / 100, 10) for i in range(16)]
    assert trader.post("/orders", orders).status_code == 400
    bad = trader.signed_order(token, "BUY", 0.305, 10)
    results = trader.post("/orders", [*orders[:2], bad]).json()
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errorMsg"].startswith("INVALID_ORDER_MIN_TICK_SIZE") and results[2]["orderID"] == ""
    assert trader.post("/orders", ["0x1"] * 1001, method="DELETE").status_code == 400
    cancelled = trader.post("/cancel-market-orders", {"market": market["condition_id"]}, method="DELETE").json()
    assert sorted(cancelled["canceled"]) == sorted(r["orderID"] for r in results[:2])


def test_order_and_trade_shapes_match_the_captures(trader, admin, market):
    token = market["token_ids"][0]
    admin.house(token, "SELL", "0.50", "10")
    order_id = trader.post("/order", trader.signed_order(token, "BUY", 0.4, 10)).json()["orderID"]
    _same_shape(trader.get(f"/data/order/{order_id}").json(), _capture("rust-test-data/http_open_order.json"))
    fill = trader.post("/order", trader.signed_order(token, "BUY", 0.5, 10)).json()
    assert fill["status"] == "matched"
    (trade,) = trader.get("/data/trades", {"id": fill["tradeIDs"][0]}).json()["data"]
    _same_shape(trade, _capture("rust-test-data/http_trades_page.json")["data"][0])
    assert trade["status"].startswith("TRADE_STATUS_") and trade["match_time"].isdigit()
    balance = trader.get("/balance-allowance", {"asset_type": "COLLATERAL", "signature_type": 0}).json()
    assert balance["balance"] == "995000000"  # 1000 pUSD less the 5 paid; a resting order only reserves
    book = httpx.get(trader.url + "/book", params={"token_id": token}).json()
    _same_shape(book, _capture("python-http/book.json"))
    assert len(book["hash"]) == 40 and book["timestamp"].isdigit() and len(book["timestamp"]) == 13


def test_cancel_bodies(trader, market):
    order_id = trader.post("/order", trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10)).json()["orderID"]
    assert trader.post("/order", {"orderID": order_id}, method="DELETE").json() == {
        "canceled": [order_id], "not_canceled": {}}
    assert trader.post("/cancel-all", None, method="DELETE").json() == {"canceled": [], "not_canceled": {}}


def test_admin_api_is_absent_unless_enabled():
    with PaperExchangeServer(admin=False, default_markets=True) as server:
        assert httpx.get(server.url + "/_paper/markets").status_code == 404
        assert httpx.post(server.url + "/_paper/fund", json={}).status_code == 404
        markets = httpx.get(server.url + "/markets").json()
        assert markets["count"] == 4 and markets["next_cursor"] == "LTE="
        assert sum(m["neg_risk"] for m in markets["data"]) == 3
        for m in markets["data"]:
            book = httpx.get(server.url + "/book", params={"token_id": m["tokens"][0]["token_id"]}).json()
            assert book["bids"] and book["asks"]
        assert len(httpx.get(server.url + "/gamma/markets").json()) == 4  # part 2 serves Gamma on the same URL
