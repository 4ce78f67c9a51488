"""Data API under /data-api, fed by the exchange's own trades: the official SDK reads a wallet's trades,
activity and positions after it trades on the CLOB; v1 rows use the captured camelCase names."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from eth_account import Account
from polymarket import PublicClient, SecureClient

from shared.polymarket.sdk_env import paper_environment
from tests.fixtures import fixture_path

V2_TRADES = fixture_path("py-sdk/data_v2/trades.json")
V1_TRADES = fixture_path("polymarket-captures/rust-test-data/data_api_trades_response.json")


@pytest.fixture(scope="module")
def public(server):
    client = PublicClient(paper_environment(server.url))
    yield client
    client.close()


@pytest.fixture(scope="module")
def traded(server, admin):
    """A wallet that bought 20 YES at 0.60 (taker) from the house, then sold 8 back into a house bid at 0.50."""
    market = admin.create_market()
    yes = market["token_ids"][0]
    account = Account.create()
    admin.fund(account.address, "100")
    admin.house(yes, "SELL", "0.60", "50")
    admin.house(yes, "BUY", "0.50", "50")
    client = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                 environment=paper_environment(server.url))
    try:
        bought = client.place_limit_order(asset_id=yes, price="0.65", size="20", side="BUY")
        admin.wait_mined(bought.trade_ids)  # the tokens bought are sellable once the trade is MINED
        sold = client.place_limit_order(asset_id=yes, price="0.45", size="8", side="SELL")
    finally:
        client.close()
    assert bought.status == sold.status == "matched"
    return {"wallet": account.address.lower(), "market": market, "yes": yes}


def test_trades_of_a_wallet_newest_first(public, traded):
    trades = list(public.list_trades(user=traded["wallet"]).iter_items())
    assert [(t.side, t.size, t.price) for t in trades] == [
        ("SELL", Decimal(8), Decimal("0.5")), ("BUY", Decimal(20), Decimal("0.6"))]
    assert all(t.wallet.lower() == traded["wallet"] and t.asset_id == traded["yes"] for t in trades)
    assert all(t.condition_id == traded["market"]["condition_id"] and t.outcome == "Yes" for t in trades)


def test_activity_of_a_wallet(public, traded):
    rows = list(public.list_activity(user=traded["wallet"], sort_direction="ASC").iter_items())
    assert [(a.type, a.side, a.shares, a.amount) for a in rows] == [
        ("TRADE", "BUY", Decimal(20), Decimal(12)), ("TRADE", "SELL", Decimal(8), Decimal(4))]


def test_positions_of_a_wallet(public, traded):
    (position,) = list(public.list_positions(user=traded["wallet"]).iter_items())
    assert position.asset_id == traded["yes"] and position.current_size == Decimal(12)
    assert position.avg_price == Decimal("0.6") and position.realized_pnl == Decimal("-0.8")
    assert position.opposite_asset_id == traded["market"]["token_ids"][1] and position.status == "OPEN"


def test_market_trades_feed_for_copy_trading(server, traded):
    """What a copy trader polls: every fill in a market, the counterparties' (house) rows included."""
    rows = httpx.get(server.url + "/data-api/v2/trades",
                     params={"condition_id": traded["market"]["condition_id"]}).json()
    assert rows["pagination"] == {"has_more": False, "next_cursor": None}
    assert len(rows["data"]) == 4 and {r["proxy_wallet"] for r in rows["data"]} >= {traded["wallet"]}
    assert set(rows["data"][0]) == set(json.loads(V2_TRADES.read_text())[0])


def test_v1_rows_use_camel_case(server, traded):
    (row, _) = httpx.get(server.url + "/data-api/trades", params={"user": traded["wallet"]}).json()
    captured = json.loads(V1_TRADES.read_text())[0]
    missing = {"proxyWallet", "asset", "conditionId", "side", "size", "price", "timestamp", "transactionHash",
               "outcome", "outcomeIndex", "title", "slug", "eventSlug"} - set(row)
    assert not missing and set(captured) - set(row) <= {"icon", "name", "pseudonym", "bio", "profileImage",
                                                       "profileImageOptimized"} - set(row)
    positions = httpx.get(server.url + "/data-api/positions", params={"user": traded["wallet"]}).json()
    assert positions[0]["asset"] == traded["yes"] and positions[0]["size"] == 12


def test_pagination_and_misses(server, traded):
    page = httpx.get(server.url + "/data-api/v2/trades", params={"user": traded["wallet"], "limit": 1}).json()
    assert len(page["data"]) == 1 and page["pagination"]["has_more"] is True
    rest = httpx.get(server.url + "/data-api/v2/trades", params={
        "user": traded["wallet"], "limit": 1, "cursor": page["pagination"]["next_cursor"]}).json()
    assert rest["data"][0]["side"] == "BUY" and rest["pagination"]["has_more"] is False
    nobody = httpx.get(server.url + "/data-api/v2/positions", params={"user": "0x" + "11" * 20}).json()
    assert nobody["data"] == []
