"""Cancels touch only the sending strategy's orders (and the signal's, when named), against the paper
exchange, real Redis and the real executor process; each cancel is logged with what it touched."""

from __future__ import annotations

import pytest

from shared.messages import ApprovedCancel, ApprovedCancelV2, Envelope, replace
from shared.streams import APPROVED_ORDERS, Output
from tests.executor.conftest import approval
from tests.executor.test_paper_orders_control import live_ids, order_of
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def owned(market, strategy, signal_key, price):
    return replace(approval(market, price=price), strategy=strategy, signal_key=signal_key)


async def test_a_requote_cancels_its_own_quote_and_no_other_strategys_orders(bus, executor, admin, wallet):
    market = admin.create_market()
    executor.start()
    await executor.wait_started()
    old_quote = owned(market, "market_making", "mm:tok:gen1", "0.30")
    older_quote = owned(market, "market_making", "mm:tok:gen0", "0.29")
    arbitrage = owned(market, "arbitrage", "arb:x", "0.31")
    copy = owned(market, "copy", "copy:y", "0.32")
    approvals = (old_quote, older_quote, arbitrage, copy)
    await bus.publish_many([Output(APPROVED_ORDERS, a) for a in approvals])
    await eventually(lambda: all(order_of(executor, a.client_order_id) for a in approvals), timeout=30)
    h_old, h_older, h_arb, h_copy = (order_of(executor, a.client_order_id) for a in approvals)
    await eventually(lambda: live_ids(admin, wallet) == {h_old, h_older, h_arb, h_copy}, timeout=20)

    # The requote of market making pulls the quote of generation 1 only.
    requote = ApprovedCancelV2(envelope=Envelope.new("risk"), signal_key="mm:tok:gen1:cancel",
                               strategy="market_making", market=market["condition_id"], of_signal_key="mm:tok:gen1")
    await bus.publish(APPROVED_ORDERS, requote)
    await eventually(lambda: live_ids(admin, wallet) == {h_older, h_arb, h_copy}, timeout=20)
    logged = await eventually(lambda: [e for e in executor.events("cancel") if e["signal_key"] == "mm:tok:gen1:cancel"])
    assert logged[0]["strategy"] == "market_making" and logged[0]["order_ids"] == [h_old]
    assert logged[0]["canceled"] == 1 and logged[0]["refused"] == []

    # A v1 cancel by market (no signal) takes all of market making's orders there, and nothing else.
    await bus.publish(APPROVED_ORDERS, ApprovedCancel(envelope=Envelope.new("risk"), signal_key="mm:pull",
                                                      strategy="market_making", market=market["condition_id"]))
    await eventually(lambda: live_ids(admin, wallet) == {h_arb, h_copy}, timeout=20)

    # Naming another strategy's order is refused (and logged), its order stays.
    await bus.publish(APPROVED_ORDERS, ApprovedCancel(
        envelope=Envelope.new("risk"), signal_key="mm:oops", strategy="market_making",
        client_order_ids=(copy.client_order_id,)))
    refused = await eventually(lambda: [e for e in executor.events("cancel") if e["signal_key"] == "mm:oops"])
    assert refused[0]["refused"] == [copy.client_order_id] and refused[0]["canceled"] == 0
    # The owner itself may cancel it.
    await bus.publish(APPROVED_ORDERS, ApprovedCancel(envelope=Envelope.new("risk"), signal_key="copy:done",
                                                      strategy="copy", client_order_ids=(copy.client_order_id,)))
    await eventually(lambda: live_ids(admin, wallet) == {h_arb}, timeout=20)
    assert executor.stop() == 0
