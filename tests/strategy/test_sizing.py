"""Sizing functions and tick-grid pricing helpers: pure, exact on Decimals."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.strategy import sizing
from services.strategy.pricing import (
    maker_price,
    on_grid,
    taker_fee_per_share,
    taker_price,
    tradable_size,
)
from shared.messages import Side


def test_fixed_buys_the_usd_amount():
    assert sizing.fixed(D(10), D("0.25")) == D(40)
    assert sizing.fixed(D(0), D("0.25")) == 0 and sizing.fixed(D(10), D(0)) == 0


@pytest.mark.parametrize(("leader", "expected_usd"), [("10", 2), ("100", 5), ("1000", 20)])
def test_proportional_keeps_the_cost_between_min_and_max(leader, expected_usd):
    shares = sizing.proportional(D(leader), D("0.1"), D("0.5"), min_usd=D(2), max_usd=D(20))
    assert shares * D("0.5") == expected_usd


def test_kelly_fraction_and_cap():
    assert sizing.kelly_fraction(D("0.6"), D("0.5")) == D("0.2")
    assert sizing.kelly_fraction(D("0.4"), D("0.5")) == 0  # no edge, no bet
    assert sizing.kelly_fraction(D("0.9"), D(1)) == 0
    assert sizing.kelly(D("0.6"), D("0.5"), bankroll_usd=D(1000), fraction=D("0.25"), max_usd=D(100)) == D(100)
    assert sizing.kelly(D("0.6"), D("0.5"), bankroll_usd=D(1000), fraction=D("0.25"), max_usd=D(1000)) == D(100)


def test_volatility_scaling():
    base = {"target_volatility": D("0.01"), "max_usd": D(50)}
    assert sizing.volatility_scaled(D(10), D("0.5"), volatility=D("0.02"), **base) == D(10)  # half of $10
    assert sizing.volatility_scaled(D(10), D("0.5"), volatility=D("0.001"), **base) == D(100)  # capped at $50
    assert sizing.volatility_scaled(D(10), D("0.5"), volatility=None, **base) == D(20)


@pytest.mark.parametrize(("price", "tick", "side", "maker", "taker"), [
    ("0.514", "0.01", Side.BUY, "0.51", "0.52"),
    ("0.514", "0.01", Side.SELL, "0.52", "0.51"),
    ("0.0001", "0.01", Side.BUY, "0.01", "0.01"),
    ("0.9999", "0.001", Side.SELL, "0.999", "0.999"),
    ("0.50125", "0.0025", Side.BUY, "0.5", "0.5025"),
])
def test_maker_rounds_passive_and_taker_rounds_crossing(price, tick, side, maker, taker):
    assert maker_price(D(price), D(tick), side) == D(maker)
    assert taker_price(D(price), D(tick), side) == D(taker)
    assert on_grid(maker_price(D(price), D(tick), side), D(tick))


def test_sizes_floor_to_the_step_and_respect_the_minimum():
    assert tradable_size(D("5.129"), D(5)) == D("5.12")
    assert tradable_size(D("4.999"), D(5)) is None


def test_fee_matches_the_protocol_example():
    # crypto, rate 0.07, exponent 1: 100 shares at 0.50 pay $1.75
    assert taker_fee_per_share(D("0.5"), D("0.07"), D(1)) * 100 == D("1.75")
