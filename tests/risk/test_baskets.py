"""A basket is judged as one: one decision, every leg clamped by one factor, every rule on the whole."""
# ruff: noqa: F811 - the harness fixtures come from test_decisions

from __future__ import annotations

from decimal import Decimal as D

from services.risk.baskets import BasketDecider
from services.risk.decisions import DECISIONS
from services.risk.handling import handle_once
from shared import messages as m
from shared.streams import APPROVED_ORDERS
from tests.risk.helpers import CID, NO, YES, market_info
from tests.risk.test_decisions import Harness, by_stream, clock, harness, settings  # noqa: F401 - fixtures

OTHER_CID = "0x" + "cd" * 32
OTHER_YES, OTHER_NO = "91", "92"


def basket(*legs, key="arb:E:neg_risk_yes:f1"):
    return m.BasketIntent(envelope=m.Envelope.new("strategy"), strategy="arbitrage", signal_key=key,
                          reason="arb_neg_risk_yes: edge", market="E", legs=tuple(
                              m.BasketLeg(market=market, token_id=token, side=m.Side.BUY, price=D(price),
                                          size=D(size)) for market, token, price, size in legs))


def decide(harness, intent):
    deciding = BasketDecider(harness.decider)
    return by_stream(handle_once(harness.state, harness.events, intent.envelope.message_id,
                                 lambda fx: deciding.decide(intent, fx), record_always=True))


def discover(harness):
    harness.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=market_info()))
    harness.on_event(m.MarketDiscovered(envelope=m.Envelope.new("ingest"),
                                        market=market_info(cid=OTHER_CID, tokens=(OTHER_YES, OTHER_NO))))


def test_a_basket_over_the_trade_size_is_clamped_in_proportion_in_one_decision(harness):
    discover(harness)
    # 3 legs x 100 shares at 0.30 + 0.25 + 0.20 = 75 USD > 50: every leg to 66.66 shares, one decision.
    out = decide(harness, basket((CID, YES, "0.30", "100"), (CID, NO, "0.25", "100"),
                                 (OTHER_CID, OTHER_YES, "0.20", "100")))
    decision, = out[DECISIONS]
    approved, = out[APPROVED_ORDERS]
    assert decision.approved and decision.rule == "MAX_TRADE_SIZE_USD" and decision.approved_size == D("66.66")
    assert isinstance(approved, m.ApprovedBasket) and approved.clamped_from_size == D(100)
    assert [leg.size for leg in approved.legs] == [D("66.66")] * 3
    assert len({leg.client_order_id for leg in approved.legs}) == 3
    assert [leg.price_limit for leg in approved.legs] == [D("0.32"), D("0.27"), D("0.22")]


def test_one_leg_failing_a_rule_rejects_the_whole_basket(harness):
    discover(harness)
    harness.on_event(m.MarketUpdated(envelope=m.Envelope.new("ingest"), market=market_info(
        cid=OTHER_CID, tokens=(OTHER_YES, OTHER_NO), volume="10")))
    out = decide(harness, basket((CID, YES, "0.30", "20"), (OTHER_CID, OTHER_YES, "0.20", "20")))
    decision, = out[DECISIONS]
    assert not decision.approved and decision.rule == "MIN_LIQUIDITY_USD" and decision.detail.startswith("leg 2")
    assert APPROVED_ORDERS not in out


def test_the_market_notional_counts_all_of_the_baskets_legs_in_a_market(harness):
    discover(harness)
    # Max 100 per market: YES + NO in one market at 0.45 + 0.50 for 150 shares is 142.5 there.
    out = decide(harness, basket((CID, YES, "0.45", "150"), (CID, NO, "0.50", "150"), key="arb:b:f"))
    decision, = out[DECISIONS]
    assert decision.rule in ("MAX_PER_MARKET_NOTIONAL", "MAX_TRADE_SIZE_USD")
    approved, = out[APPROVED_ORDERS]
    assert [leg.size for leg in approved.legs] == [decision.approved_size] * 2
    assert decision.approved_size * D("0.95") <= D(50)


def test_a_basket_clamped_below_the_minimum_size_is_rejected(settings, tmp_path, clock):
    small = Harness(settings.model_copy(update={"max_trade_size_usd": D(5)}), tmp_path / "s.sqlite", clock,
                    tmp_path / "logs")
    discover(small)
    # 5 USD over 0.99 + 0.99 per set is 2.52 shares a leg: below the markets' minimum of 5.
    out = decide(small, basket((CID, YES, "0.99", "10"), (OTHER_CID, OTHER_YES, "0.99", "10")))
    decision, = out[DECISIONS]
    assert not decision.approved and decision.rule == "MAX_TRADE_SIZE_USD" and "below" in decision.detail
    assert APPROVED_ORDERS not in out
    small.close()


def test_the_kill_switch_rejects_a_basket_and_a_redelivery_replays_the_decision(harness):
    discover(harness)
    harness.state.set_kill_switch(True, "test", "cli")
    intent = basket((CID, YES, "0.30", "10"), (CID, NO, "0.60", "10"))
    first, = decide(harness, intent)[DECISIONS]
    assert not first.approved and first.rule == "KILL_SWITCH"
    harness.state.set_kill_switch(False, "released", "cli")
    again, = decide(harness, intent)[DECISIONS]
    assert again == first
