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
    (0.305, 10, "is invalid. Price (0.305) breaks minimum tick size rule: 0.01"),
    (1.0, 10, "invalid price (1), min: 0.01 - max: 0.99"),
    (0.30, 4, "is invalid. Size (4) lower than the minimum: 5"),
])
def test_order_validation_messages(trader, market, price, size, message):
    signed = trader.signed_order(market["token_ids"][0], "BUY", price, size)
    response = trader.post("/order", signed)
    assert response.status_code == 400 and message in response.json()["error"]
    if "is invalid." in message:  # "order 0x<hash> is invalid. ...", as the venue words it
        assert response.json()["error"].startswith("order 0x")


# (side, order type, makerAmount, takerAmount, error): the venue's amount rules (issue 14 item 5).
AMOUNT_CASES = [
    # The limit price is the exact ratio: 50.001 / 100 = 0.50001 is off the 0.01 grid (not rounded to 0.50).
    ("BUY", "GTC", 50_001_000, 100_000_000, "is invalid. Price (0.50001) breaks minimum tick size rule: 0.01"),
    # Limit amounts: shares 2 decimals, pUSD tick decimals + 2 (py-clob-client issue #305).
    ("BUY", "GTC", 5_000_500, 10_001_000, ("the buy orders maker amount supports a max accuracy of 4 decimals, "
                                           "taker amount a max of 2 decimals")),
    ("SELL", "GTC", 10_001_000, 5_000_500, ("the sell orders maker amount supports a max accuracy of 2 decimals, "
                                            "taker amount a max of 4 decimals")),
    # Market orders: maker 2 decimals, taker 4, whatever the tick (rs-clob-client issue #114).
    ("BUY", "FOK", 5_001_000, 10_000_000, ("the market buy orders maker amount supports a max accuracy of 2 "
                                           "decimals, taker amount a max of 4 decimals")),
    ("SELL", "FAK", 10_000_000, 5_000_010, ("the market sell orders maker amount supports a max accuracy of 2 "
                                            "decimals, taker amount a max of 4 decimals")),
    # A marketable order moves at least $1 (a FOK BUY of $0.50 into the 0.50 ask).
    ("BUY", "FOK", 500_000, 1_000_000, "invalid amount for a marketable BUY order ($0.5), min size: $1"),
]


@pytest.mark.parametrize("side,order_type,maker,taker,message", AMOUNT_CASES)
def test_amounts_as_the_venue_checks_them(trader, admin, market, side, order_type, maker, taker, message):
    token = market["token_ids"][0]
    admin.house(token, "SELL", "0.50", "100")
    admin.fund(trader.address, "1000", {token: "100"})
    signed = trader.signed_order(token, side, 0.5, 10, order_type=order_type, amounts=(maker, taker))
    response = trader.post("/order", signed)
    assert response.status_code == 400 and message in response.json()["error"], response.json()


def test_market_order_price_is_the_inexact_ratio_a_limit_order_may_not_have(trader, admin, market):
    """The SDK's market BUY of $5 at most 0.55 signs 5 / 9.0909 (0.550000055...): accepted as a FOK, filled
    at the 0.55 ask; the same amounts as a GTC are refused (its price must be exact)."""
    token = market["token_ids"][0]
    admin.house(token, "SELL", "0.55", "100")
    gtc = trader.post("/order", trader.signed_order(token, "BUY", 0.55, 9, amounts=(5_000_000, 9_090_900)))
    assert gtc.status_code == 400
    fok = trader.post("/order", trader.signed_order(token, "BUY", 0.55, 9, order_type="FOK",
                                                    amounts=(5_000_000, 9_090_900)))
    assert fok.json()["status"] == "matched" and fok.json()["takingAmount"] == "9.09"


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
    assert "breaks minimum tick size rule" in results[2]["errorMsg"] and results[2]["orderID"] == ""
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


def test_book_hash_covers_the_summary_exactly_as_sent(admin):
    """A market with min_order_size 15: GET /book says "15" and its hash is over "15" (it hashed "5")."""
    from shared.polymarket.book_hash import book_hash

    market = admin.create_market(min_order_size=15)
    yes = market["token_ids"][0]
    admin.house(yes, "BUY", "0.40", "20")
    book = httpx.get(admin.url + "/book", params={"token_id": yes}).json()
    assert book["min_order_size"] == "15"
    levels = {side: [(lv["price"], lv["size"]) for lv in book[side]] for side in ("bids", "asks")}
    assert book["hash"] == book_hash(
        market=book["market"], asset_id=yes, timestamp=book["timestamp"], bids=levels["bids"],
        asks=levels["asks"], tick_size=book["tick_size"], neg_risk=book["neg_risk"],
        last_trade_price=book["last_trade_price"], min_order_size="15")


def test_a_partly_filled_then_cancelled_gtc_reads_matched(trader, admin, market):
    """NautilusTrader #4787/#4795: the venue reports a terminated order that traded as MATCHED, whether or not
    it filled completely (size_matched < original_size tells)."""
    token = market["token_ids"][0]
    order_id = trader.post("/order", trader.signed_order(token, "BUY", 0.4, 10)).json()["orderID"]
    admin.house(token, "SELL", "0.40", "4")
    trader.post("/order", {"orderID": order_id}, method="DELETE")
    order = trader.get(f"/data/order/{order_id}").json()
    assert (order["status"], order["size_matched"], order["original_size"]) == ("MATCHED", "4", "10")
