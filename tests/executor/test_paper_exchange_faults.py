"""The same unknown-outcome and reconnect cases through the paper exchange's own /_paper/faults (issue 4)."""

from __future__ import annotations

import pytest

from shared.messages import Fill, OrderStatus, OrderUpdate, TradeStatus
from shared.streams import APPROVED_ORDERS, FILLS
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_dropped_connection_after_apply_is_unknown_then_live(bus, executor, admin, market, wallet, faults):
    executor.start()
    await executor.wait_started()
    faults("http", {"status": "drop", "after_apply": True, "paths": ["/order", "/orders"], "methods": ["POST"],
                    "count": 1})
    order = approval(market, price="0.45", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: executor.events("order_unknown"), timeout=30)

    async def live():
        return [m for _, m in await bus.history(FILLS) if isinstance(m, OrderUpdate)
                and m.client_order_id == order.client_order_id and m.status is OrderStatus.LIVE]

    await eventually(live, timeout=30)
    assert len(own_orders(admin, wallet.address)) == 1
    assert executor.stop() == 0


async def test_fill_during_a_user_stream_disconnect_still_reports_the_whole_chain(bus, executor, admin, market,
                                                                                   wallet, faults):
    executor.start()
    await executor.wait_started()
    order = approval(market, price="0.46", size="10")
    await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: [o for o in own_orders(admin, wallet.address) if o["status"] == "LIVE"],
                     timeout=30)
    faults("ws", {"channel": "user", "action": "disconnect"})
    admin.house(market["token_ids"][0], "SELL", "0.46", "10")  # crosses our resting bid while we reconnect

    async def chain():
        fills = [m for _, m in await bus.history(FILLS) if isinstance(m, Fill)
                 and m.client_order_id == order.client_order_id]
        return [f.status for f in fills] if fills and fills[-1].status is TradeStatus.CONFIRMED else None

    assert await eventually(chain, timeout=40) == [TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED]
    assert executor.stop() == 0
