"""The chaos audit on hand-made records: a clean run passes; a duplicate order, a lost fill, an undecided
intent, a duplicated fill and an order no approval explains are each reported."""

from __future__ import annotations

import copy
from decimal import Decimal

from shared.messages import (
    ApprovedOrder,
    Envelope,
    Fill,
    OrderEventKind,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskDecision,
    Side,
    TradeStatus,
    replace,
)
from shared.streams import DeadLetter
from tests.chaos.audit import ExecutorApproval, ExecutorOrder, Records, audit

WALLET = "0xAbC0000000000000000000000000000000000001"


def _env(message_id: str) -> Envelope:
    return Envelope.new("test", message_id=message_id)


def _intent(n: int) -> OrderIntent:
    return OrderIntent(envelope=_env(f"intent-{n}"), token_id="tok", side=Side.BUY, size=Decimal(10),
                       price=Decimal("0.40"), reason="test", strategy="copy", signal_key=f"sig-{n}", market="m1")


def _decision(n: int, approved: bool) -> RiskDecision:
    return RiskDecision(envelope=_env(f"decision-{n}"), intent_id=f"intent-{n}", signal_key=f"sig-{n}",
                        strategy="copy", approved=approved, requested_size=Decimal(10),
                        approved_size=Decimal(10) if approved else Decimal(0))


def _approved(n: int) -> ApprovedOrder:
    return ApprovedOrder(envelope=_env(f"approved-{n}"), client_order_id=f"coid-{n}", intent_id=f"intent-{n}",
                         signal_key=f"sig-{n}", strategy="copy", market="m1", token_id="tok", side=Side.BUY,
                         size=Decimal(10), price=Decimal("0.40"), price_limit=Decimal("0.41"), order_type="GTC",
                         tick_size=Decimal("0.01"))


def _fill(trade_id: str, status: TradeStatus, order_id: str = "hash-1", n: int = 1) -> Fill:
    return Fill(envelope=_env(f"fill-{trade_id}-{status}-{id(object())}"), trade_id=trade_id, status=status,
                order_id=order_id, client_order_id=f"coid-{n}", market="m1", token_id="tok", side=Side.BUY,
                size=Decimal(10), price=Decimal("0.40"))


def _update(order_id: str, n: int) -> OrderUpdate:
    return OrderUpdate(envelope=_env(f"update-{order_id}"), client_order_id=f"coid-{n}", order_id=order_id,
                       kind=OrderEventKind.PLACEMENT, status=OrderStatus.LIVE, market="m1", token_id="tok",
                       side=Side.BUY, price=Decimal("0.40"), original_size=Decimal(10))


def _order(order_id: str, trades: list[str], matched: str = "10") -> dict:
    return {"id": order_id, "maker_address": WALLET.lower(), "status": "MATCHED", "side": "BUY",
            "original_size": "10", "size_matched": matched, "price": "0.4", "order_type": "GTC",
            "associate_trades": trades}


def _clean() -> Records:
    """Intent 1 approved, filled by trade t1 (MATCHED then CONFIRMED); intent 2 rejected; intent 3 dead."""
    return Records(
        wallet=WALLET, events=100,
        intents=[("1-0", _intent(1)), ("2-0", _intent(2)), ("3-0", _intent(3)), ("4-0", _intent(1))],  # 1 replayed
        decisions=[_decision(1, True), _decision(2, False), _decision(1, True)],
        approved=[_approved(1), _approved(1)],
        fills=[_update("hash-1", 1), _fill("t1", TradeStatus.MATCHED), _fill("t1", TradeStatus.CONFIRMED)],
        dead_letters={"intents": [DeadLetter("9-0", "intents", "3-0", "risk", "boom", 6, {})],
                      "events:main": [DeadLetter("9-1", "events:main", "5-0", "strategy:main", "decode: tick", 1, {})]},
        exchange_orders=[_order("hash-1", ["t1"]),
                         {**_order("other", ["t9"]), "maker_address": "0xsomeoneelse"}],
        exchange_trades=[{"id": "t1", "status": "CONFIRMED", "taker_order_id": "hash-1", "size": "10",
                          "price": "0.4"},
                         {"id": "t9", "status": "MATCHED", "taker_order_id": "other", "size": "1", "price": "0.5"}],
        executor_orders=[ExecutorOrder("hash-1", "coid-1", 1, "MATCHED")],
        executor_approvals=[ExecutorApproval("coid-1", "DONE", "placed")],
        ledger={"positions_checked": 1, "position_differences": [], "cash_difference": None, "venue_errors": []},
        poisoned=[("events:main", "5-0")],
        aimed={"after_save": 1},
        decision_log=[{"type": "risk_approve", "intent_id": "intent-1"},
                      {"type": "risk_reject", "intent_id": "intent-2"}],
        kills={"risk": 2, "redis": 1},
    )


def test_a_clean_run_is_clean_and_counted():
    result = audit(_clean())
    assert result.clean, result.problems
    counts = result.counts
    assert counts["intents"] == 3 and counts["intent entries replayed"] == 1
    assert counts["approved"] == 1 and counts["rejected"] == 1 and counts["dead-lettered intents"] == 1
    assert counts["exchange orders"] == 1 and counts["duplicate orders"] == 0
    assert counts["fills"] == 2 and counts["fills lost"] == 0 and counts["exchange trades (ours)"] == 1
    assert counts["kills total"] == 4 and counts["kills executor at after_save"] == 1
    assert counts["decision entries replayed"] == 1
    assert counts["outcome placed"] == 1 and counts["poison entries dead-lettered"] == 1
    table = result.table()
    assert "clean" in table and "intents" in table


def test_a_duplicate_order_for_one_approval_is_reported():
    records = _clean()
    records.exchange_orders.append(_order("hash-2", [], matched="0"))
    records.executor_orders.append(ExecutorOrder("hash-2", "coid-1", 1))
    result = audit(records)
    assert result.counts["duplicate orders"] >= 1
    assert any("produced 2 exchange orders" in p for p in result.problems)


def test_a_duplicate_posted_but_unrecorded_order_is_reported_as_unexplained():
    records = _clean()
    records.exchange_orders.append(_order("hash-x", [], matched="0"))
    result = audit(records)
    assert result.counts["unexplained orders"] == 1
    assert any("explained by no approval" in p for p in result.problems)


def test_a_lost_fill_is_reported():
    records = _clean()
    records.exchange_orders[0]["associate_trades"].append("t2")
    records.exchange_trades.append({"id": "t2", "status": "CONFIRMED", "taker_order_id": "hash-1", "size": "0",
                                    "price": "0.4"})
    result = audit(records)
    assert result.counts["fills lost"] == 1
    assert any("t2" in p and "missing from fills" in p for p in result.problems)


def test_a_fill_whose_final_status_was_not_recorded_is_reported():
    records = _clean()
    records.fills = [m for m in records.fills if not (isinstance(m, Fill) and m.status == TradeStatus.CONFIRMED)]
    result = audit(records)
    assert any("fills recorded only ['MATCHED']" in p for p in result.problems)


def test_a_fill_recorded_twice_is_reported():
    records = _clean()
    records.fills.append(_fill("t1", TradeStatus.CONFIRMED))
    result = audit(records)
    assert result.counts["fills duplicated"] == 1
    assert any("recorded 2 times" in p for p in result.problems)


def test_an_intent_with_no_decision_and_no_dead_letter_is_reported():
    records = _clean()
    records.intents.append(("5-0", _intent(5)))
    result = audit(records)
    assert any("intent-5" in p and "no decision" in p for p in result.problems)


def test_conflicting_verdicts_and_approvals_without_decision_are_reported():
    records = _clean()
    records.decisions.append(_decision(2, True))
    records.approved.append(_approved(7))
    result = audit(records)
    assert any("both approved and rejected" in p for p in result.problems)
    assert any("coid-7" in p and "without an approving decision" in p for p in result.problems)


def test_an_overfilled_approval_is_reported():
    records = _clean()
    records.exchange_orders[0]["size_matched"] = "12"
    assert any("more than the 10 approved" in p for p in audit(records).problems)


def test_a_market_buy_is_bounded_by_what_it_spent():
    records = _clean()
    approval = replace(records.approved[0], order_type="FAK")
    records.approved = [approval]
    records.exchange_orders[0]["size_matched"] = "10.5"  # price improvement: more shares, same USD
    records.exchange_trades[0] = {**records.exchange_trades[0], "size": "10.5", "price": "0.39"}
    assert audit(records).clean
    overspent = copy.deepcopy(records)
    overspent.exchange_trades[0]["price"] = "0.45"
    assert any("spent" in p for p in audit(overspent).problems)


def test_a_missing_decision_log_line_is_counted():
    records = _clean()
    records.decision_log = records.decision_log[:1]
    assert audit(records).counts["decision log missing"] == 1


def test_an_approval_the_executor_never_recorded_or_left_unfinished_is_reported():
    records = _clean()
    records.executor_approvals = []
    assert any("coid-1 was never recorded by the executor" in p for p in audit(records).problems)
    records.executor_approvals = [ExecutorApproval("coid-1", "ACTIVE", "")]
    assert any("coid-1 not finished: ACTIVE" in p for p in audit(records).problems)


def test_an_abandoned_approval_and_an_unresolved_order_are_reported():
    records = _clean()
    records.exchange_orders = [o for o in records.exchange_orders if o["id"] != "hash-1"]
    records.exchange_trades = records.exchange_trades[1:]
    records.fills = [m for m in records.fills if not isinstance(m, Fill)]
    records.executor_approvals = [ExecutorApproval("coid-1", "DONE", "unknown outcome: not placed")]
    records.executor_orders = [ExecutorOrder("hash-1", "coid-1", 1, "UNKNOWN", "refused 2 times")]
    problems = audit(records).problems
    assert any("ended without a final outcome: 'unknown outcome: not placed'" in p for p in problems)
    assert any("hash-1 of coid-1 left UNKNOWN" in p for p in problems)


def test_a_placed_approval_with_no_exchange_order_is_reported():
    records = _clean()
    records.exchange_orders = [o for o in records.exchange_orders if o["id"] != "hash-1"]
    records.exchange_trades = records.exchange_trades[1:]
    records.fills = [m for m in records.fills if not isinstance(m, Fill)]
    assert any("says 'placed' but no exchange order" in p for p in audit(records).problems)


def test_an_order_left_live_after_the_graceful_stop_is_reported():
    records = _clean()
    records.exchange_orders[0]["status"] = "LIVE"
    assert any("still live after the executor's graceful stop" in p for p in audit(records).problems)


def test_a_ledger_that_differs_from_the_exchange_is_reported():
    records = _clean()
    records.ledger = {**records.ledger, "position_differences": [{"token_id": "tok", "ledger": "10", "venue": "0"}],
                      "cash_difference": {"ledger": "5", "venue": "6"}}
    problems = audit(records).problems
    assert any("ledger differs from the exchange" in p for p in problems)
    assert any("cash differs" in p for p in problems)


def test_a_poison_entry_that_was_not_dead_lettered_is_reported():
    records = _clean()
    records.poisoned.append(("events:main", "6-0"))
    assert any("poison entry 6-0 on events:main was not dead-lettered" in p for p in audit(records).problems)


def test_a_self_trade_has_one_fill_per_own_order_not_a_duplicate():
    records = _clean()
    records.fills.append(_fill("t1", TradeStatus.CONFIRMED, order_id="hash-2"))
    assert audit(records).counts["fills duplicated"] == 0


def test_a_basket_its_legs_and_its_unwind_orders_are_explained():
    from shared.messages import ApprovedBasket, ApprovedBasketLeg, BasketIntent, BasketLeg, deterministic_id

    records = _clean()
    legs = (BasketLeg(market="m1", token_id="tok", side=Side.BUY, price=Decimal("0.40"), size=Decimal(10)),
            BasketLeg(market="m2", token_id="tok2", side=Side.BUY, price=Decimal("0.50"), size=Decimal(10)))
    records.intents.append(("5-0", BasketIntent(envelope=_env("intent-5"), strategy="arbitrage", signal_key="arb:5",
                                                reason="arb: test", market="E", legs=legs)))
    records.decisions.append(RiskDecision(envelope=_env("decision-5"), intent_id="intent-5", signal_key="arb:5",
                                          strategy="arbitrage", approved=True, requested_size=Decimal(10),
                                          approved_size=Decimal(10)))
    records.approved.append(ApprovedBasket(
        envelope=_env("approved-5"), basket_id="b5", intent_id="intent-5", signal_key="arb:5", strategy="arbitrage",
        market="E", order_type="FOK", legs=tuple(
            ApprovedBasketLeg(client_order_id=f"leg-{i}", market=leg.market, token_id=leg.token_id, side=leg.side,
                              size=leg.size, price=leg.price, price_limit=leg.price + Decimal("0.02"),
                              tick_size=Decimal("0.01")) for i, leg in enumerate(legs))))
    unwind = deterministic_id("unwind", "leg-0", "1")
    records.exchange_orders += [_order("hash-leg", []), {**_order("hash-unwind", []), "side": "SELL"}]
    records.executor_orders += [ExecutorOrder("hash-leg", "leg-0", 1, "MATCHED"),
                                ExecutorOrder("hash-unwind", unwind, 1, "MATCHED")]
    records.executor_approvals += [ExecutorApproval("leg-0", "DONE", "placed"),
                                   ExecutorApproval("leg-1", "DONE", "phases exhausted at the price limit")]
    records.decision_log.append({"type": "risk_approve", "intent_id": "intent-5"})
    result = audit(records)
    assert result.clean, result.problems
    assert result.counts["intents basket"] == 1 and result.counts["unexplained orders"] == 0

    records.executor_orders[-1] = ExecutorOrder("hash-unwind", deterministic_id("unwind", "leg-9", "1"), 1,
                                                "MATCHED")
    assert any("explained by no approval" in p for p in audit(records).problems)


def test_a_basket_leg_stopped_to_unwind_is_a_final_outcome():
    records = _clean()
    records.executor_approvals = [ExecutorApproval("coid-1", "DONE", "basket: stopped to unwind")]
    result = audit(records)
    assert result.clean, result.problems
    assert result.counts["outcome basket stopped"] == 1
