"""The executor's order signing (services/executor/sdk_signing.py) makes exactly the order the official client
would have made: the same signature over the same fields, for limit and market orders on every exchange
domain, and the venue's order id is the digest it signed (the hash the paper exchange answers with)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polymarket import AsyncSecureClient
from polymarket._internal.actions.orders import orders as sdk_orders

from services.executor.venue import OrderRequest, PolymarketVenue
from shared.messages import OrderType, Side
from shared.polymarket.sdk_env import paper_environment

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def venues(server, admin, market):
    """Two clients of one key: `sdk` signs the SDK's own way (eth_account), `venue` the executor's way."""
    account = Account.create()
    admin.fund(account.address, "1000")
    clients = [
        await AsyncSecureClient.create(
            private_key=account.key.hex(), wallet=account.address, environment=paper_environment(server.url)
        )
        for _ in range(2)
    ]
    sdk_sign_order = clients[0]._sign_order  # taken before any PolymarketVenue replaces it
    venue = PolymarketVenue(clients[1], chain_id=137, submit_timeout_secs=10, clob_url=server.url)
    reference = PolymarketVenue(clients[0], chain_id=137, submit_timeout_secs=10, clob_url=server.url)
    reference.client._sign_order = sdk_sign_order
    yield venue, reference, market
    for client in clients:
        await client.close()


@pytest.fixture
def fixed_identity(monkeypatch):
    """The SDK draws salt and timestamp at random per order; fixed here so two signatures can be compared."""
    monkeypatch.setattr(sdk_orders, "_generate_salt", lambda: 123_456_789_012_345)
    monkeypatch.setattr(sdk_orders, "_current_timestamp_ms", lambda: 1_764_000_000_123)


ORDERS = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=99).map(lambda cents: Decimal(cents) / 100),
    st.integers(min_value=500, max_value=100_000).map(lambda hundredths: Decimal(hundredths) / 100),
    st.sampled_from([OrderType.GTC, OrderType.FOK, OrderType.FAK]),
    st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=ORDERS)
async def test_the_signed_order_and_its_id_equal_the_official_clients(venues, fixed_identity, order):
    venue, reference, market = venues
    side, price, size, order_type, neg_risk = order
    request = OrderRequest(
        market["token_ids"][0],
        side,
        price,
        size,
        order_type,
        neg_risk=neg_risk,
        market=market["condition_id"],
        tick_size=Decimal("0.01"),
    )
    ours, theirs = await venue.sign(request), await reference.sign(request)
    assert ours.body == theirs.body  # every field, the signature included
    assert ours.order_hash == theirs.order_hash  # ours: the digest signed; theirs: recovered over each domain


async def test_the_venue_answers_with_the_digest_signed(venues, admin):
    venue, _, market = venues
    yes = market["token_ids"][0]
    signed = await venue.sign(
        OrderRequest(
            yes,
            Side.BUY,
            Decimal("0.05"),
            Decimal(5),
            OrderType.GTC,
            market=market["condition_id"],
            tick_size=Decimal("0.01"),
        )
    )
    (result,) = await venue.post_orders([signed])
    assert result.accepted, result
    assert (await venue.order(signed.order_hash)) is not None  # the paper exchange knows it by that id
