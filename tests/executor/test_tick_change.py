"""A tick size change under queued approvals, against the paper exchange and the real executor process: while
submission is halted (heartbeats refused) approvals queue; the venue changes the market's tick and
TickSizeChanged arrives on `control`; when submission resumes each approval is posted on the new grid in
our favour (a BUY rounded down) or refused when no price on it is within its limit. None is posted to die."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.messages import Envelope, TickSizeChanged
from shared.streams import APPROVED_ORDERS, CONTROL
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def _delivered(bus, stream: str) -> bool:
    stats = [g for g in await bus.group_stats(stream) if g.group == "executor"]
    return bool(stats) and stats[0].lag == 0 and stats[0].pending == 0


def _tick_changed(market: dict, old: str, new: str) -> TickSizeChanged:
    return TickSizeChanged(envelope=Envelope.new("ingest"), market=market["condition_id"],
                           token_id=market["token_ids"][0], old_tick_size=Decimal(old), new_tick_size=Decimal(new))


async def test_queued_approvals_follow_a_tick_change_or_are_refused(bus, executor, admin, faults, wallet):
    finer, coarser = admin.create_market(), admin.create_market()
    faults("http", {"status": 500, "paths": ["/v1/heartbeats"]})  # no accepted heartbeat: nothing is posted
    executor.start()
    await executor.wait_started()

    # Approved while risk still had tick 0.01 for both markets.
    fine = approval(finer, price="0.419", limit="0.43")  # on 0.01 it would have gone out at 0.41
    down = approval(coarser, price="0.45", limit="0.46")  # on 0.1: 0.4, in our favour
    refused = approval(coarser, price="0.05", limit="0.05")  # on 0.1: 0.0 is no price; 0.1 is past the limit
    for order in (fine, down, refused):
        await bus.publish(APPROVED_ORDERS, order)
    await eventually(lambda: _delivered(bus, APPROVED_ORDERS))

    admin.http.post(f"/markets/{finer['condition_id']}/tick-size", json={"tick_size": "0.001"}).raise_for_status()
    admin.http.post(f"/markets/{coarser['condition_id']}/tick-size", json={"tick_size": "0.1"}).raise_for_status()
    await bus.publish(CONTROL, _tick_changed(finer, "0.01", "0.001"))
    await bus.publish(CONTROL, _tick_changed(coarser, "0.01", "0.1"))
    await eventually(lambda: _delivered(bus, CONTROL))
    admin.http.delete("/faults").raise_for_status()  # heartbeats accepted again: submission resumes

    def posted() -> dict[str, str]:
        return {o["market"]: o["price"] for o in own_orders(admin, wallet.address)}

    prices = await eventually(lambda: len(posted()) == 2 and posted(), timeout=30)
    assert Decimal(prices[finer["condition_id"]]) == Decimal("0.419")
    assert Decimal(prices[coarser["condition_id"]]) == Decimal("0.4")
    assert all(o["status"] == "LIVE" for o in own_orders(admin, wallet.address))
    dropped = {e["client_order_id"]: e["reason"] for e in executor.events("approval_dropped")}
    assert refused.client_order_id in dropped and "0.05" in dropped[refused.client_order_id]
    assert not executor.events("order_rejected")
    assert [e["new_price"] for e in executor.events("approval_retick")] == ["0.4"]
