"""External verdicts: a posted probability against the book, once per signal, with expiry and sizing modes."""

from __future__ import annotations

from decimal import Decimal

from services.strategy.engine import Engine
from services.strategy.strategies.verdict import ExternalVerdict, SizingParams, VerdictParams
from shared.messages import Side
from tests.strategy.scenario import T0, delta, discovered, feed, info, signal, snapshot, views

M = info("v")


def engine(mode: str = "fixed", edge_bps: int = 300) -> Engine:
    sizing = SizingParams(mode=mode, fixed_usd=Decimal(10), bankroll_usd=Decimal(100),
                          kelly_fraction=Decimal("0.5"), max_usd=Decimal(40))
    return Engine([ExternalVerdict(VerdictParams(min_edge_bps=Decimal(edge_bps), sizing=sizing))])


def books(yes_ask: str = "0.50", no_ask: str = "0.52") -> list:
    return [discovered(M, at=T0), snapshot(M, "v-yes", [], [(yes_ask, "1000")], at=T0),
            snapshot(M, "v-no", [], [(no_ask, "1000")], at=T0)]


def test_a_high_probability_buys_yes_at_the_ask():
    verdict = signal(M, "0.60", at=T0 + 1)
    intents = feed(engine(), [*books(), verdict])
    assert views(intents) == [("verdict", f"verdict:{verdict.envelope.message_id}", "v", "v-yes", "BUY",
                               "0.50", "20.00", "FAK")]


def test_a_low_probability_buys_no():
    intents = feed(engine(), [*books(), signal(M, "0.40", at=T0 + 1)])
    assert [(v[3], v[5]) for v in views(intents)] == [("v-no", "0.52")]  # fair NO 0.60 vs 0.52


def test_below_the_edge_nothing_until_the_book_offers_it_once():
    e = engine()
    assert feed(e, [*books(), signal(M, "0.52", at=T0 + 1)]) == []  # edge 0.02 < 0.03
    cheaper = feed(e, [delta(M, "v-yes", Side.SELL, "0.48", "50", at=T0 + 2)])
    assert [(v[3], v[5], v[6]) for v in views(cheaper)] == [("v-yes", "0.48", "20.83")]
    assert feed(e, [delta(M, "v-yes", Side.SELL, "0.40", "50", at=T0 + 3)]) == []  # acted already


def test_an_expired_signal_is_not_traded():
    e = engine()
    assert feed(e, [*books("0.69", "0.40"), signal(M, "0.70", expires=T0 + 5, at=T0 + 1)]) == []  # no edge yet
    assert feed(e, [delta(M, "v-yes", Side.SELL, "0.50", "50", at=T0 + 6)]) == []


def test_kelly_sizing_and_signals_for_unknown_markets():
    intents = feed(engine("kelly"), [*books(), signal(M, "0.60", at=T0 + 1)])
    # f* = (0.6 - 0.5) / 0.5 = 0.2; half Kelly of $100 = $10 -> 20 shares
    assert views(intents)[0][6] == "20.00"
    assert feed(engine(), [signal(info("elsewhere"), "0.99")]) == []


def test_each_signal_decision_says_why_it_acted_or_not():
    e = engine()
    feed(e, books())
    below = e.decide_signal(signal(M, "0.52", at=T0 + 1))
    assert below.intents == [] and below.reason.startswith("verdict: edge 0.0200 below the minimum 0.03")
    expired = e.decide_signal(signal(M, "0.90", expires=T0 + 1, at=T0 + 2))
    assert (expired.intents, expired.reason) == ([], "verdict: expired")
    wrong_token = e.decide_signal(signal(M, "0.90", token="not-ours", at=T0 + 3))
    assert wrong_token.reason == "verdict: token not-ours is not one of the market's"
    elsewhere = e.decide_signal(signal(info("elsewhere"), "0.99", at=T0 + 4))
    assert elsewhere.reason == "market not served by this worker's shard (or not discovered yet)"
    acted = e.decide_signal(signal(M, "0.60", at=T0 + 5))
    assert len(acted.intents) == 1 and acted.reason == acted.intents[0].reason
    assert acted.reason.startswith("verdict_edge: test fair 0.60 vs ask 0.50")


def test_a_signal_no_enabled_strategy_takes_says_so():
    e = Engine([])
    feed(e, books())
    decision = e.decide_signal(signal(M, "0.60", at=T0 + 1))
    assert (decision.intents, decision.reason) == ([], "no enabled strategy takes external signals")
