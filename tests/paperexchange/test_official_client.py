"""polymarket-client (the official SDK) against the paper exchange, changing nothing but the URLs."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from eth_account import Account
from polymarket import AsyncSecureClient, SecureClient
from polymarket.streams import UserSpec

from shared.polymarket.sdk_env import paper_environment
from tests.helpers import eventually


async def _collect(handle, sink: list) -> None:
    async for event in handle:
        sink.append(event)


def _events(events: list, kind: str, **fields) -> list:
    return [e for e in events if e.type == kind and all(getattr(e.payload, k) == v for k, v in fields.items())]


@pytest.mark.timeout(60)
async def test_official_async_client_trades_and_receives_user_events(server, admin, market):
    account = Account.create()
    admin.fund(account.address, "1000")
    yes = market["token_ids"][0]
    admin.house(yes, "SELL", "0.60", "50")  # liquidity to cross into later
    client = await AsyncSecureClient.create(
        private_key=account.key.hex(), wallet=account.address, environment=paper_environment(server.url)
    )
    try:
        assert client.wallet_type == "EOA"
        events: list = []
        handle = await client.subscribe(UserSpec())
        reader = asyncio.create_task(_collect(handle, events))

        book = await client.get_order_book(asset_id=yes)
        assert [(lvl.price, lvl.size) for lvl in book.asks] == [(Decimal("0.6"), Decimal(50))]
        assert book.bids == () and book.tick_size == Decimal("0.01") and book.neg_risk is False

        resting = await client.place_limit_order(asset_id=yes, price="0.40", size="10", side="BUY")
        assert resting.ok and resting.status == "live" and resting.trade_ids == ()
        open_orders = [o async for o in client.list_open_orders(asset_id=yes).iter_items()]
        assert [o.id for o in open_orders] == [resting.order_id]
        assert open_orders[0].price == Decimal("0.4") and open_orders[0].original_size == Decimal(10)
        await eventually(lambda: _events(events, "order", id=resting.order_id, order_event_type="PLACEMENT"))

        cancel = await client.cancel_order(order_id=resting.order_id)
        assert cancel.canceled == (resting.order_id,)
        assert [o async for o in client.list_open_orders(asset_id=yes).iter_items()] == []
        await eventually(lambda: _events(events, "order", id=resting.order_id, order_event_type="CANCELLATION"))

        crossing = await client.place_limit_order(asset_id=yes, price="0.65", size="20", side="BUY")
        assert crossing.ok and crossing.status == "matched"
        # Price improvement: the taker pays the maker's 0.60, not its own 0.65.
        assert crossing.making_amount == Decimal(12) and crossing.taking_amount == Decimal(20)
        (trade_id,) = crossing.trade_ids
        statuses = lambda: [e.payload.status for e in _events(events, "trade", id=trade_id)]
        await eventually(lambda: statuses()[-1:] == ["CONFIRMED"])
        assert statuses() == ["MATCHED", "MINED", "CONFIRMED"]
        trade_event = _events(events, "trade", id=trade_id)[0].payload
        assert trade_event.trader_side == "TAKER" and trade_event.price == Decimal("0.6")
        assert trade_event.maker_orders[0].side == "SELL"
        trades = [t async for t in client.list_account_trades(market=market["condition_id"]).iter_items()]
        assert [t.id for t in trades] == [trade_id] and trades[0].status == "CONFIRMED"
        await reader_cancel(reader, handle)
    finally:
        await client.close()


async def reader_cancel(reader: asyncio.Task, handle) -> None:
    await handle.close()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)


def test_official_sync_client_derives_the_same_credentials(server, admin):
    account = Account.create()
    environment = paper_environment(server.url)
    first = SecureClient.create(private_key=account.key.hex(), wallet=account.address, environment=environment)
    second = SecureClient.create(private_key=account.key.hex(), wallet=account.address, environment=environment)
    try:
        assert first._ctx.credentials.key == second._ctx.credentials.key  # created once, then derived
        assert first.fetch_api_keys() == (first._ctx.credentials.key,)
    finally:
        first.close()
        second.close()
