"""World state: books from snapshots and deltas by epoch, inventory by the shared ledger (parts, settled vs
provisional, resolution, redemption), open orders."""

from __future__ import annotations

from decimal import Decimal as D

from services.strategy.state import WorldState, apply_event, apply_fill, apply_order_update, apply_redemption
from shared.messages import (
    MarketResolved,
    OrderEventKind,
    OrderStatus,
    OrderUpdate,
    PositionRedeemed,
    Side,
    TickSizeChanged,
    TradeStatus,
)
from tests.strategy.scenario import delta, discovered, env, fill, info, snapshot

M = info("m", neg_risk_id="E")


def test_books_follow_snapshots_and_deltas_of_their_epoch():
    state = WorldState()
    for message in [discovered(M), snapshot(M, "m-yes", [("0.40", "10")], [("0.60", "10")], epoch=1),
                    delta(M, "m-yes", Side.BUY, "0.45", "3", epoch=1), delta(M, "m-yes", Side.SELL, "0.60", "0", epoch=1),
                    delta(M, "m-yes", Side.SELL, "0.55", "7", epoch=0)]:
        apply_event(state, message)
    book = state.markets["m"].books["m-yes"]
    assert book.best_bid() is not None and (book.best_bid().price, book.best_bid().size) == (D("0.45"), D(3))
    assert book.best_ask() is None  # the 0.55 change was of an old epoch
    assert state.token_market["m-no"] == "m" and state.neg_risk_groups == {"E": {"m"}}


def test_a_delta_before_any_snapshot_and_a_tick_change_leave_no_usable_book():
    state = WorldState()
    apply_event(state, delta(M, "m-yes", Side.BUY, "0.45", "3"))
    assert "m-yes" not in state.markets["m"].books
    apply_event(state, snapshot(M, "m-yes", [("0.40", "10")], []))
    apply_event(state, TickSizeChanged(envelope=env(), market="m", token_id="m-yes", old_tick_size=D("0.01"),
                                       new_tick_size=D("0.001")))
    assert state.markets["m"].books["m-yes"].best_bid() is None
    assert state.markets["m"].tick_size == D("0.001")


def test_inventory_counts_a_trade_once_and_a_failed_trade_reverses_it():
    state = WorldState()
    for status in (TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.MATCHED, TradeStatus.CONFIRMED):
        apply_fill(state.portfolio, fill(M, "m-yes", Side.BUY, "10", trade_id="a", status=status))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.SELL, "4", trade_id="b"))
    assert state.portfolio.position("m-yes") == D(6)
    assert (state.portfolio.settled("m-yes"), state.portfolio.provisional("m-yes")) == (D(10), D(-4))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.SELL, "4", trade_id="b", status=TradeStatus.RETRYING))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.SELL, "4", trade_id="b", status=TradeStatus.FAILED))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.SELL, "4", trade_id="b", status=TradeStatus.MINED))
    assert state.portfolio.position("m-yes") == D(10)  # a MINED after FAILED does not bring it back


def test_both_own_parts_of_a_self_trade_count():
    state = WorldState()
    apply_fill(state.portfolio, fill(M, "m-yes", Side.BUY, "10", trade_id="a", status=TradeStatus.MINED))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.BUY, "5", trade_id="s", order_id="0xbuy"))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.SELL, "5", trade_id="s", order_id="0xsell"))
    assert state.portfolio.position("m-yes") == D(10) and state.portfolio.provisional("m-yes") == D(0)


def test_a_resolution_and_a_redemption_reach_the_inventory():
    state = WorldState()
    apply_event(state, discovered(M))
    apply_fill(state.portfolio, fill(M, "m-yes", Side.BUY, "10", trade_id="a", status=TradeStatus.CONFIRMED))
    apply_event(state, MarketResolved(envelope=env(), condition_id="m", winning_outcome="Yes"))
    assert state.markets["m"].resolved and state.portfolio.ledger.position("m-yes").resolved_price == 1
    apply_redemption(state.portfolio, PositionRedeemed(envelope=env(), market="m", token_id="m-yes", shares=D(10),
                                                       payout_usd=D(10), transaction_hash="0xt"))
    assert state.portfolio.position("m-yes") == 0


def test_open_orders_leave_when_closed():
    state = WorldState()

    def update(status: OrderStatus, matched: str = "0") -> OrderUpdate:
        return OrderUpdate(envelope=env(), client_order_id="c1", kind=OrderEventKind.UPDATE, status=status,
                           market="m", token_id="m-yes", side=Side.SELL, price=D("0.6"), original_size=D(10),
                           size_matched=D(matched))

    apply_order_update(state.portfolio, update(OrderStatus.LIVE, "4"))
    assert state.portfolio.open_size("m-yes", Side.SELL) == D(6)
    apply_order_update(state.portfolio, update(OrderStatus.CANCELED, "4"))
    assert state.portfolio.open_orders == {}
