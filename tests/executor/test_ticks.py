"""What a queued approval becomes under a new tick: rounded in our favour, never past its limit, or refused."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

from services.executor.ticks import TickSizes, retick
from shared.messages import ApprovedOrder, Envelope, OrderType, Side


def approval(side: Side, price: str, limit: str, tick: str = "0.01") -> ApprovedOrder:
    return ApprovedOrder(envelope=Envelope.new("risk"), client_order_id=uuid.uuid4().hex, intent_id="i",
                         signal_key="k", strategy="s", market="m", token_id="t", side=side, size=D(10),
                         price=D(price), price_limit=D(limit), order_type=OrderType.GTC, tick_size=D(tick))


def test_a_finer_tick_keeps_the_price_a_coarser_one_rounds_it_in_our_favour():
    assert retick(approval(Side.BUY, "0.419", "0.43"), D("0.001")) == D("0.419")
    assert retick(approval(Side.BUY, "0.45", "0.46"), D("0.1")) == D("0.4")
    assert retick(approval(Side.SELL, "0.55", "0.54"), D("0.1")) == D("0.6")


def test_no_price_on_the_new_grid_within_bounds_and_limit_is_refused():
    assert retick(approval(Side.BUY, "0.05", "0.05"), D("0.1")) is None  # 0.0 is not a price
    assert retick(approval(Side.SELL, "0.95", "0.95"), D("0.1")) is None  # 1.0 is not a price
    assert retick(approval(Side.SELL, "0.555", "0.55", tick="0.005"), D("0.01")) == D("0.56")


def test_the_venues_latest_tick_wins_over_the_approvals():
    ticks = TickSizes()
    queued = approval(Side.BUY, "0.419", "0.43")
    assert ticks.of(queued) == D("0.01")
    ticks.set("m", D("0.001"))
    assert ticks.of(queued) == D("0.001")
