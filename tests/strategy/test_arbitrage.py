"""Arbitrage driven by scripted books: binary YES+NO, neg-risk YES and NO baskets, edges, fees, depth."""

from __future__ import annotations

from decimal import Decimal

from services.strategy.engine import Engine
from services.strategy.strategies.arbitrage import Arbitrage, ArbParams
from shared.messages import BasketIntent, BookDelta, LevelChange, Side
from tests.strategy.scenario import T0, discovered, env, feed, info, snapshot, views


def engine(edge_bps: int = 50, max_usd: int = 1000) -> Engine:
    return Engine([Arbitrage(ArbParams(min_edge_bps=Decimal(edge_bps), max_size_usd=Decimal(max_usd)))])


def binary(yes_ask: str, no_ask: str, *, yes_depth: str = "100", no_depth: str = "40", **kw: str) -> list:
    m = info("b", **kw)
    # One subscription snapshot frame carries both tokens' books at one venue time.
    return [discovered(m), snapshot(m, "b-yes", [("0.30", "10")], [(yes_ask, yes_depth)], at=T0 + 500),
            snapshot(m, "b-no", [("0.30", "10")], [(no_ask, no_depth)], at=T0 + 500)]


def test_binary_asks_below_one_buy_both_legs_sized_by_the_thinner_leg():
    intents = feed(engine(), binary("0.45", "0.50"))
    assert [v[2:] for v in views(intents)] == [
        ("b", "b-yes", "BUY", "0.45", "40.00", "FOK"),
        ("b", "b-no", "BUY", "0.50", "40.00", "FOK"),
    ]
    # One basket (all or none), not two independent orders.
    assert len(intents) == 1 and isinstance(intents[0], BasketIntent) and intents[0].market == "b"
    assert intents[0].signal_key.startswith("arb:b:")


def test_books_of_one_market_from_different_frames_are_not_arbitraged_until_a_frame_moves_both():
    m = info("b")
    apart = [discovered(m), snapshot(m, "b-yes", [("0.30", "10")], [("0.45", "100")], at=T0 + 600),
             snapshot(m, "b-no", [("0.30", "10")], [("0.50", "40")], at=T0 + 601)]
    e = engine()
    assert feed(e, apart) == []  # a resync of one token next to a stale book of the other
    both = BookDelta(envelope=env(T0 + 602), market="b", changes=(
        LevelChange(token_id="b-yes", side=Side.SELL, price=Decimal("0.45"), size=Decimal(90)),
        LevelChange(token_id="b-no", side=Side.BUY, price=Decimal("0.55"), size=Decimal(90))))
    assert [v[3] for v in views(feed(e, [both]))] == ["b-yes", "b-no"]


def test_no_intent_below_the_edge_or_when_fees_eat_it():
    assert feed(engine(), binary("0.50", "0.496")) == []  # edge 0.004 < 0.005
    # rate 0.07, exponent 1: fees 0.0173 + 0.0175 leave 0.0152 of the 0.05 gap, under a 0.02 edge.
    assert feed(engine(200), binary("0.45", "0.50", fee_rate="0.07", fee_exponent="1")) == []
    assert feed(engine(200), binary("0.45", "0.45", fee_rate="0.07", fee_exponent="1")) != []


def test_the_usd_cap_limits_the_basket_and_the_same_opportunity_fires_once():
    e = engine(max_usd=19)
    first = feed(e, binary("0.45", "0.50"))
    assert [v[6] for v in views(first)] == ["20.00", "20.00"]  # 19 / 0.95
    again = feed(e, [frame(("b-yes", Side.BUY, "0.31", "5"), ("b-no", Side.SELL, "0.69", "5"))])  # bids move
    assert again == []
    gone = feed(e, [frame(("b-yes", Side.SELL, "0.45", "0"), ("b-no", Side.BUY, "0.55", "0")),
                    frame(("b-yes", Side.SELL, "0.60", "10"), ("b-no", Side.BUY, "0.40", "10"))])
    back = feed(e, [frame(("b-yes", Side.SELL, "0.45", "100"), ("b-no", Side.BUY, "0.55", "100"))])
    assert gone == [] and len(views(back)) == 2


def frame(*changes: tuple[str, Side, str, str]) -> BookDelta:
    """One venue frame of market b: a change of the mirrored book touches both tokens at one venue time."""
    return BookDelta(envelope=env(), market="b", changes=tuple(
        LevelChange(token_id=t, side=side, price=Decimal(p), size=Decimal(q)) for t, side, p, q in changes))


def neg_risk_event(yes_asks: list[str], no_asks: list[str]) -> list:
    """Ingest discovers a whole event (Gamma lists its markets together), then books arrive."""
    markets = [info(f"n{i}", neg_risk_id="E") for i in range(len(yes_asks))]
    messages: list = [discovered(m) for m in markets]
    for i, (m, yes, no) in enumerate(zip(markets, yes_asks, no_asks, strict=True)):
        messages += [snapshot(m, f"n{i}-yes", [], [(yes, "30")]), snapshot(m, f"n{i}-no", [], [(no, "25")])]
    return messages


def test_neg_risk_yes_basket_below_one():
    intents = feed(engine(), neg_risk_event(["0.30", "0.30", "0.35"], ["0.75", "0.75", "0.70"]))
    yes_legs = [v for v in views(intents) if v[1].startswith("arb:E:neg_risk_yes:")]
    assert [(v[3], v[5], v[6]) for v in yes_legs] == [
        ("n0-yes", "0.30", "30.00"), ("n1-yes", "0.30", "30.00"), ("n2-yes", "0.35", "30.00")]
    assert len(intents) == 1  # one basket; the NO side: 2.20 is not below n - 1 = 2


def test_neg_risk_no_basket_below_n_minus_one():
    intents = feed(engine(), neg_risk_event(["0.40", "0.40", "0.40"], ["0.60", "0.60", "0.65"]))
    assert [(v[3], v[5], v[6]) for v in views(intents)] == [
        ("n0-no", "0.60", "25.00"), ("n1-no", "0.60", "25.00"), ("n2-no", "0.65", "25.00")]


def test_a_basket_with_a_leg_without_asks_is_not_traded():
    messages = neg_risk_event(["0.30", "0.30", "0.30"], ["0.80", "0.80", "0.80"])
    messages[-1] = snapshot(info("n2", neg_risk_id="E"), "n2-no", [], [("0.90", "5")])
    messages[-2] = snapshot(info("n2", neg_risk_id="E"), "n2-yes", [("0.20", "5")], [])
    assert feed(engine(), messages) == []
