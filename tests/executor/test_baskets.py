"""Baskets on the paper exchange with the real executor: legs posted together, then all filled, or the filled
legs sold back within the policy's time and loss bound, so no naked position is left beyond it."""

from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from shared.messages import ApprovedBasket, ApprovedBasketLeg, Envelope, OrderType, Side, deterministic_id
from shared.streams import APPROVED_ORDERS
from tests.executor.conftest import own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# Generous for a loaded machine: legs settle (fill or exhaust their phases) long before; the unwind is short.
POLICY = {"POLYDESK_BASKET_TIMEOUT_SECS": "25", "POLYDESK_BASKET_UNWIND_SECS": "4"}


def basket(*legs: tuple[dict, str, str]) -> ApprovedBasket:
    """legs: (market, price, price limit), each a BUY of 10 YES."""
    intent_id = deterministic_id("test-basket", str(id(legs)), str(legs))
    return ApprovedBasket(
        envelope=Envelope.new("risk"), basket_id=deterministic_id("basket", intent_id), intent_id=intent_id,
        signal_key=f"arb:test:{intent_id[:8]}", strategy="arbitrage", market="E", order_type=OrderType.FOK,
        legs=tuple(ApprovedBasketLeg(client_order_id=deterministic_id("order", intent_id, m["token_ids"][0]),
                                     market=m["condition_id"], token_id=m["token_ids"][0], side=Side.BUY,
                                     size=Decimal(10), price=Decimal(price), price_limit=Decimal(limit),
                                     tick_size=Decimal("0.01")) for m, price, limit in legs))


def yes_held(admin, wallet, market) -> Decimal:
    return Decimal(admin.balances(wallet.address)["balances"].get(market["token_ids"][0], "0"))


def settled(executor, kind, basket_id):
    return [e for e in executor.events(kind) if e["basket_id"] == basket_id]


async def test_a_basket_whose_legs_all_fill_completes_posted_in_one_request(bus, executor, admin, wallet, proxy):
    first, second = admin.create_market(), admin.create_market()
    admin.house(first["token_ids"][0], "SELL", "0.45", "50")
    admin.house(second["token_ids"][0], "SELL", "0.50", "50")
    executor.start(POLYDESK_CLOB_URL=proxy.url, **POLICY)
    await executor.wait_started()
    order = basket((first, "0.45", "0.47"), (second, "0.50", "0.52"))
    await bus.publish(APPROVED_ORDERS, order)

    done, = await eventually(lambda: settled(executor, "basket_complete", order.basket_id), timeout=45)
    assert [(leg["token_id"], leg["slippage_bps"]) for leg in done["legs"]] == [
        (first["token_ids"][0], "0.0"), (second["token_ids"][0], "0.0")]
    assert ("/orders", 2) in proxy.posted  # both legs in one POST
    # The tokens bought reach the wallet when the trades are MINED (the paper exchange settles as on chain).
    await eventually(lambda: yes_held(admin, wallet, first) == yes_held(admin, wallet, second) == Decimal(10),
                     timeout=10)
    assert not settled(executor, "basket_unwound", order.basket_id)
    # A replay of the approval posts nothing again.
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("basket_posted"), timeout=10)
    assert len(settled(executor, "basket_posted", order.basket_id)) == 1
    assert executor.stop() == 0


async def test_a_leg_that_cannot_fill_unwinds_the_filled_one_and_leaves_nothing_naked(bus, executor, admin,
                                                                                      wallet):
    first, second = admin.create_market(), admin.create_market()
    admin.house(first["token_ids"][0], "SELL", "0.45", "50")
    admin.house(first["token_ids"][0], "BUY", "0.43", "50")  # someone to sell back to, within 10 %
    admin.house(second["token_ids"][0], "SELL", "0.60", "50")  # past the second leg's limit: it never fills
    executor.start(**POLICY)
    await executor.wait_started()
    order = basket((first, "0.45", "0.47"), (second, "0.50", "0.52"))
    await bus.publish(APPROVED_ORDERS, order)

    unwound, = await eventually(lambda: settled(executor, "basket_unwound", order.basket_id), timeout=40)
    legs = {leg["token_id"]: leg for leg in unwound["legs"]}
    assert legs[first["token_ids"][0]]["filled"] == "10" and legs[first["token_ids"][0]]["sold_back"] == "10"
    assert legs[second["token_ids"][0]]["filled"] == "0"
    assert unwound["naked"] == "0"
    # The second leg tried its three phases up to its limit, and nothing more.
    tried = [e["price"] for e in executor.events("order_phase")
             if e["client_order_id"] == order.legs[1].client_order_id]
    assert tried == ["0.50", "0.51", "0.52"]
    # On the exchange: bought 10 of the first YES and sold them back; nothing of the second; nothing open.
    await eventually(lambda: yes_held(admin, wallet, first) == 0, timeout=20)
    assert yes_held(admin, wallet, second) == 0
    assert [o for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"] == []
    assert not settled(executor, "basket_complete", order.basket_id)
    assert executor.stop() == 0


async def test_without_a_buyer_within_the_loss_bound_the_naked_rest_is_reported(bus, executor, admin, wallet):
    first, second = admin.create_market(), admin.create_market()
    admin.house(first["token_ids"][0], "SELL", "0.45", "50")
    admin.house(first["token_ids"][0], "BUY", "0.30", "50")  # a third below: past the 10 % loss bound
    executor.start(**POLICY)
    await executor.wait_started()
    order = basket((first, "0.45", "0.47"), (second, "0.50", "0.52"))  # the second market has no asks
    await bus.publish(APPROVED_ORDERS, order)

    unwound, = await eventually(lambda: settled(executor, "basket_unwound", order.basket_id), timeout=40)
    assert unwound["naked"] == "10"  # reported, never sold below the bound
    assert yes_held(admin, wallet, first) == Decimal(10)
    sells = [e for e in executor.events("order_phase") if e["side"] == "SELL"]
    assert len(sells) == unwound["legs"][0]["attempts"] >= 1  # FAKs retried until the unwind time ran out
    assert {e["price"] for e in sells} == {"0.41"}  # 0.45 less 10 %, never lower
    codes = {e["code"] for e in executor.events("order_rejected")
             if e["client_order_id"] in {s["client_order_id"] for s in sells}}
    # A sell before the buy is MINED is refused for balance (the tokens are not in the wallet yet, as on chain).
    assert codes - {"not_enough_balance"} == {"fak_not_filled"}
    assert executor.stop() == 0


async def test_a_basket_interrupted_by_a_crash_is_settled_after_the_restart(bus, executor, admin, wallet):
    first, second = admin.create_market(), admin.create_market()
    admin.house(first["token_ids"][0], "SELL", "0.45", "50")
    admin.house(first["token_ids"][0], "BUY", "0.43", "50")
    executor.start(**POLICY)
    await executor.wait_started()
    order = basket((first, "0.45", "0.47"), (second, "0.50", "0.52"))  # the second leg cannot fill
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: yes_held(admin, wallet, first) == Decimal(10), timeout=30)
    executor.stop(signal.SIGKILL)  # the first leg filled, nothing settled yet (or half of it)

    executor.start(**POLICY)
    unwound, = await eventually(lambda: settled(executor, "basket_unwound", order.basket_id), timeout=60)
    assert unwound["naked"] == "0"
    await eventually(lambda: yes_held(admin, wallet, first) == 0, timeout=20)
    # Settled once: by the restarted executor (basket_resumed), or before the kill, never twice.
    assert len(settled(executor, "basket_unwound", order.basket_id)) == 1
    assert not settled(executor, "basket_complete", order.basket_id)
    assert executor.stop() == 0


async def test_an_unwind_sells_a_bought_leg_only_once_its_trade_is_mined(bus, executor, admin, wallet):
    """Live, shares bought reach the wallet tens of seconds after the match (MINED) and the venue refuses to
    sell them before: an unwind that sold at once was refused until its time ran out and left them naked."""
    first, second = admin.create_market(), admin.create_market()
    admin.house(first["token_ids"][0], "SELL", "0.45", "50")
    admin.house(first["token_ids"][0], "BUY", "0.43", "50")
    admin.faults(settlement_delay_secs=3)  # slower than the legs take to settle, shorter than the unwind
    try:
        executor.start(POLYDESK_BASKET_TIMEOUT_SECS="25", POLYDESK_BASKET_UNWIND_SECS="30")
        await executor.wait_started()
        order = basket((first, "0.45", "0.47"), (second, "0.50", "0.52"))  # the second leg cannot fill
        await bus.publish(APPROVED_ORDERS, order)

        unwound, = await eventually(lambda: settled(executor, "basket_unwound", order.basket_id), timeout=60)
    finally:
        admin.faults(settlement_delay_secs=0.2)
    leg = {leg["token_id"]: leg for leg in unwound["legs"]}[first["token_ids"][0]]
    assert (leg["filled"], leg["sold_back"], leg["attempts"], unwound["naked"]) == ("10", "10", 1, "0")
    sells = {e["client_order_id"] for e in executor.events("order_phase") if e["side"] == "SELL"}
    assert not [e for e in executor.events("order_rejected") if e["client_order_id"] in sells]
    await eventually(lambda: yes_held(admin, wallet, first) == 0, timeout=20)
    assert executor.stop() == 0
