"""py-clob-client-v2 pointed at the paper exchange's host: the seed's smoke test and the helpers it uses."""

from __future__ import annotations

from eth_account import Account
from py_clob_client_v2 import ClobClient, OrderArgs, OrderPayload


def test_one_dollar_gtc_buy_is_live_then_cancelled(server, admin, market):
    account = Account.create()
    admin.fund(account.address, "10")
    client = ClobClient(server.url, chain_id=137, key=account.key.hex())
    client.set_api_creds(client.create_or_derive_api_key())

    response = client.create_and_post_order(
        OrderArgs(token_id=market["token_ids"][0], price=0.01, size=100, side="BUY")
    )
    assert response["success"] is True and response["status"] == "live"
    order_id = response["orderID"]
    assert order_id.startswith("0x") and len(order_id) == 66

    order = client.get_order(order_id)
    assert order["status"] == "LIVE" and order["price"] == "0.01" and order["original_size"] == "100"
    assert [o["id"] for o in client.get_open_orders()] == [order_id]

    assert client.cancel_order(OrderPayload(orderID=order_id)) == {"canceled": [order_id], "not_canceled": {}}
    assert client.get_order(order_id)["status"] == "CANCELED"
    assert client.get_open_orders() == []
    again = client.cancel_order(OrderPayload(orderID=order_id))
    assert again["canceled"] == [] and order_id in again["not_canceled"]


def test_market_metadata_and_book_hash_agree_with_the_client(server, admin, market):
    client = ClobClient(server.url, chain_id=137)
    yes, no = market["token_ids"]
    admin.house(yes, "BUY", "0.42", "30")
    assert client.get_tick_size(yes) == "0.01"
    assert client.get_neg_risk(no) is False
    assert client.get_version() == 2
    raw = client.get_order_book(no)
    assert raw["asks"] == [{"price": "0.58", "size": "30"}]  # the YES bid, mirrored
    assert client.get_order_book_hash(dict(raw)) == raw["hash"]  # the client's own recipe
