"""The executor on a taker-delay (`itode`) market (issue 14 item 3): the post answers `delayed`, the fill
follows on the user stream, and a must-fill FOK waits for that outcome instead of posting its next phase."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.messages import Fill, OrderType, TradeStatus
from shared.streams import APPROVED_ORDERS, FILLS
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_a_delayed_fok_is_reported_filled_and_posted_once(bus, executor, admin, wallet):
    market = admin.create_market(taker_delay=True)
    admin.house(market["token_ids"][0], "SELL", "0.50", "50")
    executor.start()
    await executor.wait_started()
    order = approval(market, price="0.50", size="10", limit="0.52", order_type=OrderType.FOK, must_fill=True)
    await bus.publish(APPROVED_ORDERS, order)

    async def matched() -> list[Fill]:
        return [m for _, m in await bus.history(FILLS)
                if isinstance(m, Fill) and m.client_order_id == order.client_order_id
                and m.status is TradeStatus.MATCHED]

    (fill,) = await eventually(matched, timeout=30)
    assert fill.size == Decimal(10) and fill.price == Decimal("0.5")
    submitted = [e for e in executor.events("order_submitted") if e["client_order_id"] == order.client_order_id]
    assert [e["status"] for e in submitted] == ["delayed"]
    # Counting the delayed answer as "not filled" requeued the next phase at once, before this fill came.
    assert len(own_orders(admin, wallet.address)) == 1
    assert not [e for e in executor.events("phase_next") if e["client_order_id"] == order.client_order_id]
