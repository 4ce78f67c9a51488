"""Every rule passes and fails on its own numbers; clamping changes the size and nothing else."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.risk.checks import (
    RULE_NAMES,
    RULES,
    Limits,
    Order,
    Outcome,
    RestingOrder,
    Situation,
    check_region,
    evaluate,
    price_limit,
)
from shared.messages import Side

NOW = 1_767_000_000.0
LIMITS = Limits(dry_run=False, max_trade_size_usd=D(50), max_daily_loss_usd=D(100), min_liquidity_usd=D(1000),
                min_secs_to_resolution=3600, max_per_market_notional_usd=D(200), dedup_window_secs=60)
OK = Situation(now=NOW, kill_switch_active=False, daily_pnl_usd=D(0), volume_24h_usd=D(5000),
               end_date_ts=int(NOW) + 7200, market_closed=False, market_notional_usd=D(0), signal_approved_ts=None)
ORDER = Order(Side.BUY, D(10), D("0.5"))


def test_rules_run_in_the_seeds_order():
    assert RULE_NAMES == ("KILL_SWITCH", "GEO_RESTRICTION", "BOOK_NOT_VALID", "DRY_RUN", "MAX_TRADE_SIZE_USD",
                          "MAX_DAILY_LOSS_USD", "MIN_LIQUIDITY_USD", "MIN_TIME_TO_RESOLUTION", "MAX_PER_MARKET_NOTIONAL",
                          "UNSETTLED_INVENTORY", "SELF_TRADE", "DEDUP_WINDOW")


def test_everything_within_limits_is_approved_unchanged():
    decision = evaluate(ORDER, OK, LIMITS)
    assert decision.approved and decision.rule is None and decision.size == D(10)


# rule name -> (a situation/limits/order that fails it, one just inside that passes it)
FAILING = {
    "KILL_SWITCH": ({"situation": replace(OK, kill_switch_active=True)}, {}),
    "DRY_RUN": ({"limits": replace(LIMITS, dry_run=True)}, {}),
    "GEO_RESTRICTION": ({"situation": replace(OK, trading_region="blocked")},
                        {"situation": replace(OK, trading_region="ok")}),
    "BOOK_NOT_VALID": ({"situation": replace(OK, book_state="gap", book_reason="hash_mismatch")},
                       {"situation": replace(OK, book_state="valid")}),
    "MAX_DAILY_LOSS_USD": ({"situation": replace(OK, daily_pnl_usd=D("-100.01"))},
                           {"situation": replace(OK, daily_pnl_usd=D(-100))}),
    "MIN_LIQUIDITY_USD": ({"situation": replace(OK, volume_24h_usd=D("999.99"))},
                          {"situation": replace(OK, volume_24h_usd=D(1000))}),
    "MIN_TIME_TO_RESOLUTION": ({"situation": replace(OK, end_date_ts=int(NOW) + 3599)},
                               {"situation": replace(OK, end_date_ts=int(NOW) + 3600)}),
    "MAX_PER_MARKET_NOTIONAL": ({"situation": replace(OK, market_notional_usd=D("195.01"))},
                                {"situation": replace(OK, market_notional_usd=D(195))}),
    "DEDUP_WINDOW": ({"situation": replace(OK, signal_approved_ts=NOW - 59)},
                     {"situation": replace(OK, signal_approved_ts=NOW - 60)}),
}


@pytest.mark.parametrize("rule", sorted(FAILING))
def test_each_rule_rejects_with_its_name_and_numbers(rule):
    failing, passing = FAILING[rule]
    decision = evaluate(failing.get("order", ORDER), failing.get("situation", OK), failing.get("limits", LIMITS))
    assert not decision.approved and decision.rule == rule and decision.size == 0
    assert decision.detail
    if rule not in ("KILL_SWITCH", "DRY_RUN", "BOOK_NOT_VALID", "GEO_RESTRICTION"):
        assert decision.numbers
    passed = evaluate(passing.get("order", ORDER), passing.get("situation", OK), passing.get("limits", LIMITS))
    assert passed.approved, passed


@pytest.mark.parametrize("region", ["ok", "unknown", "unchecked"])
def test_a_region_without_a_known_restriction_passes_both_sides(region):
    for side in (Side.BUY, Side.SELL):
        assert check_region(Order(side, D(10), D("0.5")), replace(OK, trading_region=region), LIMITS).outcome \
            == Outcome.PASS


def test_a_close_only_region_passes_only_reducing_orders():
    close_only = replace(OK, trading_region="close_only", settled_shares=D(10))
    buy = evaluate(Order(Side.BUY, D(10), D("0.5")), close_only, LIMITS)
    assert not buy.approved and buy.rule == "GEO_RESTRICTION" and "close-only" in buy.detail
    assert evaluate(Order(Side.SELL, D(10), D("0.5")), close_only, LIMITS).approved
    # A SELL past the held shares would open a short: UNSETTLED_INVENTORY refuses it.
    assert evaluate(Order(Side.SELL, D(11), D("0.5")), close_only, LIMITS).rule == "UNSETTLED_INVENTORY"
    blocked = replace(close_only, trading_region="blocked")
    assert evaluate(Order(Side.SELL, D(10), D("0.5")), blocked, LIMITS).rule == "GEO_RESTRICTION"


def test_each_rule_function_passes_the_ok_situation():
    for name, rule in RULES:
        assert rule(ORDER, OK, LIMITS).outcome == Outcome.PASS, name


def test_unknown_market_closed_market_and_missing_end_date_fail_closed():
    assert evaluate(ORDER, replace(OK, volume_24h_usd=None), LIMITS).rule == "MIN_LIQUIDITY_USD"
    assert evaluate(ORDER, replace(OK, market_closed=True), LIMITS).rule == "MIN_TIME_TO_RESOLUTION"
    assert evaluate(ORDER, replace(OK, end_date_ts=None), LIMITS).rule == "MIN_TIME_TO_RESOLUTION"


def test_selling_held_inventory_is_not_blocked_by_market_notional():
    sell = Order(Side.SELL, D(10), D("0.5"))
    assert evaluate(sell, replace(OK, market_notional_usd=D(500), settled_shares=D(10)), LIMITS).approved


def test_max_trade_size_clamps_instead_of_rejecting():
    big = Order(Side.BUY, D(300), D("0.5"))  # 150 USD > 50
    decision = evaluate(big, OK, LIMITS)
    assert decision.approved and decision.rule == "MAX_TRADE_SIZE_USD"
    assert decision.requested_size == D(300) and decision.size == D(100)
    assert decision.numbers["clamped_size"] == D(100)
    assert evaluate(Order(Side.BUY, D(100), D("0.5")), OK, LIMITS).rule is None  # exactly at the limit passes


def test_later_rules_see_the_clamped_size():
    # 150 USD requested would break a 200 market limit on top of 100 held; clamped to 50 it does not.
    decision = evaluate(Order(Side.BUY, D(300), D("0.5")), replace(OK, market_notional_usd=D(100)), LIMITS)
    assert decision.approved and decision.size == D(100)


@given(size=st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2),
       price=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2))
def test_clamp_never_exceeds_the_limit_and_only_lowers_size(size, price):
    limits = replace(LIMITS, max_per_market_notional_usd=D(10**9))
    decision = evaluate(Order(Side.BUY, size, price), OK, limits)
    assert decision.approved
    assert decision.size <= size
    assert decision.size * price <= limits.max_trade_size_usd or decision.size == size
    if decision.size != size:
        assert decision.rule == "MAX_TRADE_SIZE_USD"
        assert (decision.size + D("0.01")) * price > limits.max_trade_size_usd  # as large as the limit allows


@given(pnl=st.decimals(min_value=-1000, max_value=1000, places=2),
       volume=st.decimals(min_value=0, max_value=10_000, places=2),
       held=st.decimals(min_value=0, max_value=1000, places=2))
def test_a_rejection_names_the_first_failing_rule(pnl, volume, held):
    situation = replace(OK, daily_pnl_usd=pnl, volume_24h_usd=volume, market_notional_usd=held)
    decision = evaluate(ORDER, situation, LIMITS)
    expected = next((name for name, rule in RULES if rule(ORDER, situation, LIMITS).outcome == Outcome.REJECT), None)
    assert decision.rule == expected and decision.approved == (expected is None)


@pytest.mark.parametrize("side, price, expected", [
    (Side.BUY, D("0.50"), D("0.51")),   # 200 bps of 0.50 = 0.01
    (Side.SELL, D("0.50"), D("0.49")),
    (Side.BUY, D("0.99"), D("0.99")),   # never beyond 1 - tick
    (Side.SELL, D("0.01"), D("0.01")),  # never below one tick
    (Side.BUY, D("0.33"), D("0.33")),   # 0.3366 floors back to the price on the grid
])
def test_price_limit_stays_on_the_grid_and_within_the_unit_interval(side, price, expected):
    assert price_limit(side, price, D("0.01"), 200) == expected


@pytest.mark.parametrize("side, price, tick, expected", [
    (Side.BUY, D("0.30"), D("0.01"), D("0.32")),    # 200 bps is 0.006: two ticks instead
    (Side.SELL, D("0.30"), D("0.01"), D("0.28")),
    (Side.BUY, D("0.80"), D("0.01"), D("0.82")),    # 200 bps is 0.016, floored to 0.01: two ticks
    (Side.BUY, D("0.500"), D("0.001"), D("0.510")),  # 200 bps is ten ticks: bps wins
    (Side.BUY, D("0.98"), D("0.01"), D("0.99")),    # never beyond 1 - tick
])
def test_price_limit_is_at_least_min_ticks_away(side, price, tick, expected):
    assert price_limit(side, price, tick, 200, 2) == expected


def test_a_sell_only_of_settled_shares_not_already_offered():
    sell = Order(Side.SELL, D(10), D("0.5"))
    provisional_only = evaluate(sell, replace(OK, settled_shares=D(0)), LIMITS)
    assert not provisional_only.approved and provisional_only.rule == "UNSETTLED_INVENTORY"
    offered = evaluate(sell, replace(OK, settled_shares=D(15), open_sell_size=D(6)), LIMITS)
    assert not offered.approved and offered.numbers["open_sell_size"] == D(6)
    assert evaluate(sell, replace(OK, settled_shares=D(16), open_sell_size=D(6)), LIMITS).approved
    assert evaluate(ORDER, replace(OK, settled_shares=D(0)), LIMITS).approved  # a BUY needs no shares


@pytest.mark.parametrize(("order", "resting", "crosses"), [
    (Order(Side.BUY, D(10), D("0.50")), RestingOrder(Side.SELL, D("0.50"), False), True),
    (Order(Side.BUY, D(10), D("0.49")), RestingOrder(Side.SELL, D("0.50"), False), False),
    (Order(Side.SELL, D(10), D("0.40")), RestingOrder(Side.BUY, D("0.45"), False), True),
    (Order(Side.BUY, D(10), D("0.50")), RestingOrder(Side.BUY, D("0.60"), False), False),
    # Through the mirror: BUY YES + BUY NO at prices summing to 1 or more mint; SELL + SELL at 1 or less merge.
    (Order(Side.BUY, D(10), D("0.55")), RestingOrder(Side.BUY, D("0.45"), True), True),
    (Order(Side.BUY, D(10), D("0.54")), RestingOrder(Side.BUY, D("0.45"), True), False),
    (Order(Side.SELL, D(10), D("0.50")), RestingOrder(Side.SELL, D("0.50"), True), True),
    (Order(Side.SELL, D(10), D("0.56")), RestingOrder(Side.SELL, D("0.45"), True), False),
    (Order(Side.BUY, D(10), D("0.90")), RestingOrder(Side.SELL, D("0.10"), True), False),
])
def test_self_trade_is_rejected_unless_allowed(order, resting, crosses):
    situation = replace(OK, own_resting=(resting,), settled_shares=D(100))
    decision = evaluate(order, situation, LIMITS)
    assert decision.approved is not crosses
    if crosses:
        assert decision.rule == "SELF_TRADE"
        assert evaluate(order, situation, replace(LIMITS, allow_self_trade=True)).approved
