"""The executor signs FOK/FAK through the official client's market-order path (issue 14 item 5): the amounts
follow the venue's market-order precision (maker at most 2 decimals, taker at most 4) that a limit-signed
order breaks, the paper exchange (as strict as Polymarket) accepts them, and the fill stays within the
approved size and price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from polymarket import AsyncSecureClient

from services.executor.venue import OrderRequest, PolymarketVenue, market_buy_amount
from shared.messages import OrderType, Side
from shared.polymarket.sdk_env import paper_environment

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def venue(server, admin):
    account = Account.create()
    admin.fund(account.address, "100")
    client = await AsyncSecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                            environment=paper_environment(server.url))
    venue = PolymarketVenue(client, chain_id=137, submit_timeout_secs=10, clob_url=server.url)
    yield venue, account
    await venue.close()


def test_market_buy_amount_is_the_notional_down_to_the_cent():
    assert market_buy_amount(Decimal("7.33"), Decimal("0.57")) == Decimal("4.17")  # 4.1781
    assert market_buy_amount(Decimal(10), Decimal("0.55")) == Decimal("5.50")


@pytest.mark.parametrize("order_type", [OrderType.FOK, OrderType.FAK])
async def test_fok_and_fak_buys_pass_the_market_order_rules(venue, admin, market, order_type):
    venue, _ = venue
    yes = market["token_ids"][0]
    admin.house(yes, "SELL", "0.57", "100")
    signed = await venue.sign(OrderRequest(token_id=yes, side=Side.BUY, price=Decimal("0.57"),
                                           size=Decimal("7.33"), order_type=order_type))
    maker, taker = int(signed.body["makerAmount"]), int(signed.body["takerAmount"])
    assert maker == 4_170_000 and maker % 10_000 == 0 and taker % 100 == 0  # 2 and 4 decimals
    assert signed.body["orderType"] == order_type.value
    (result,) = await venue.post_orders([signed])
    assert result.accepted and result.status == "matched", result
    assert result.making_amount <= Decimal("4.17") and result.taking_amount <= Decimal("7.33")


async def test_fok_sell_passes_the_market_order_rules(venue, admin, market):
    venue, account = venue
    yes = market["token_ids"][0]
    admin.fund(account.address, "100", {yes: "20"})
    admin.house(yes, "BUY", "0.43", "100")
    signed = await venue.sign(OrderRequest(token_id=yes, side=Side.SELL, price=Decimal("0.43"),
                                           size=Decimal("7.33"), order_type=OrderType.FOK))
    assert int(signed.body["makerAmount"]) == 7_330_000 and int(signed.body["takerAmount"]) % 100 == 0
    (result,) = await venue.post_orders([signed])
    assert result.accepted and result.status == "matched", result
    assert result.making_amount == Decimal("7.33") and result.taking_amount >= Decimal("3.1519")


async def test_a_fine_tick_market_buy_is_signed_with_four_decimal_shares(venue, admin):
    """On a 0.001 tick polymarket-client 0.14.0 signs $2.09 at 0.419 as 4.98806 shares (5 decimals), which the
    venue refuses for a market order; the executor spends a cent less until the shares have 4 decimals."""
    venue, _ = venue
    market = admin.create_market(tick_size="0.001")
    yes = market["token_ids"][0]
    admin.house(yes, "SELL", "0.419", "100")
    signed = await venue.sign(OrderRequest(token_id=yes, side=Side.BUY, price=Decimal("0.419"), size=Decimal(5),
                                           order_type=OrderType.FOK))
    maker, taker = int(signed.body["makerAmount"]), int(signed.body["takerAmount"])
    assert maker % 10_000 == 0 and taker % 100 == 0 and Decimal("1.5") < Decimal(maker) / 10**6 <= Decimal("2.09")
    (result,) = await venue.post_orders([signed])
    assert result.accepted and result.status == "matched", result
