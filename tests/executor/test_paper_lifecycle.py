"""The executor process against the paper exchange: post, fill, lifecycle reports, shutdown, never twice."""

from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from shared.messages import Envelope, Fill, KillSwitchChanged, OrderStatus, OrderUpdate, TradeStatus
from shared.streams import APPROVED_ORDERS, CONTROL, FILLS
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def reports(bus, kind):
    return [m for _, m in await bus.history(FILLS) if isinstance(m, kind)]


async def test_approved_order_fills_and_reports_matched_mined_confirmed(bus, executor, admin, market, wallet):
    admin.house(market["token_ids"][0], "SELL", "0.60", "50")
    executor.start()
    await executor.wait_started()
    order = approval(market, price="0.60", size="10")
    await bus.publish(APPROVED_ORDERS, order)

    async def statuses():
        fills = [f for f in await reports(bus, Fill) if f.client_order_id == order.client_order_id]
        return [f.status for f in fills] if fills and fills[-1].status is TradeStatus.CONFIRMED else None

    assert await eventually(statuses, timeout=30) == [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED]
    fill = next(f for f in await reports(bus, Fill) if f.client_order_id == order.client_order_id)
    assert fill.side == order.side and fill.size == order.size and str(fill.price) == "0.6"
    placements = [u for u in await reports(bus, OrderUpdate) if u.client_order_id == order.client_order_id]
    assert placements and placements[0].status is OrderStatus.MATCHED
    assert len(own_orders(admin, wallet.address)) == 1

    # A replay of the same approval (same client order id) posts nothing.
    await bus.publish(APPROVED_ORDERS, order)
    resting = approval(market, price="0.40", size="10")
    await bus.publish(APPROVED_ORDERS, resting)
    await eventually(lambda: len(own_orders(admin, wallet.address)) == 2, timeout=20)
    await eventually(lambda: any(o["status"] == "LIVE" for o in own_orders(admin, wallet.address)),
                     timeout=20)

    assert executor.stop(signal.SIGTERM) == 0, executor.stderr()[-3000:]
    assert [o for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"] == []
    kinds = [e["type"] for e in executor.events()]
    assert kinds[-1] == "shutdown_clean" and "cancel_all" in kinds
    assert len(own_orders(admin, wallet.address)) == 2
    secret = wallet.key.hex()
    assert secret.removeprefix("0x") not in executor.stderr()
    event_text = "".join(p.read_text() for p in (executor.tmp_path / "logs").glob("*.jsonl"))
    assert secret.removeprefix("0x") not in event_text


async def test_kill_switch_cancels_every_open_order(bus, executor, admin, market, wallet):
    executor.start()
    await executor.wait_started()
    for price in ("0.30", "0.31", "0.32"):
        await bus.publish(APPROVED_ORDERS, approval(market, price=price, size="10"))
    await eventually(
        lambda: len([o for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"]) == 3, timeout=30)
    await bus.publish(CONTROL, KillSwitchChanged(envelope=Envelope.new("risk"), active=True, reason="test",
                                                 actor="test"))
    await eventually(lambda: not [o for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"],
                     timeout=30)
    # While the switch is on, nothing new is posted.
    await bus.publish(APPROVED_ORDERS, approval(market, price="0.33", size="10"))
    await eventually(lambda: executor.events("approval_dropped"), timeout=20)
    assert len(own_orders(admin, wallet.address)) == 3
    assert executor.stop() == 0
    assert executor.events()[-1]["type"] == "shutdown_clean"


async def test_a_taker_fill_reports_the_fee_the_exchange_charged(bus, executor, admin, wallet):
    fee_market = admin.create_market(fee_rate="0.07", fee_exponent="1")
    admin.house(fee_market["token_ids"][0], "SELL", "0.60", "50")
    before = Decimal(admin.balances(wallet.address)["balances"]["COLLATERAL"])
    executor.start()
    await executor.wait_started()
    order = approval(fee_market, price="0.60", size="10")
    await bus.publish(APPROVED_ORDERS, order)

    async def matched():
        fills = [f for f in await reports(bus, Fill) if f.client_order_id == order.client_order_id]
        return fills[0] if fills else None

    fill = await eventually(matched, timeout=30)
    assert not fill.is_maker
    assert fill.fee_usd == Decimal("0.168")  # 10 x 0.07 x (0.6 x 0.4)
    spent = before - Decimal(admin.balances(wallet.address)["balances"]["COLLATERAL"])
    assert spent == Decimal("6") + fill.fee_usd


def test_taker_fee_formula():
    from services.executor.fees import taker_fee

    assert taker_fee(Decimal(100), Decimal("0.5"), Decimal("0.07"), Decimal(1)) == Decimal("1.75")
    assert taker_fee(Decimal(10), Decimal("0.3"), Decimal("0.04"), Decimal(2)) == Decimal("0.01764")
    assert taker_fee(Decimal(10), Decimal("0.3"), Decimal(0), Decimal(1)) == 0
