"""Market making driven by scripted books and fills: quotes, microprice, skew, requote interval, cancel/replace."""

from __future__ import annotations

from decimal import Decimal

from services.strategy.engine import Engine
from services.strategy.strategies.market_making import MarketMaking, MMParams
from shared.messages import MarketResolved, OrderIntent, Side, TradeStatus
from tests.strategy.scenario import T0, delta, discovered, env, feed, fill, info, snapshot, views

M = info("m")


def engine(**overrides: object) -> Engine:
    params: dict[str, object] = {"half_spread_bps": Decimal(200), "requote_interval_secs": 10.0,
                                 "quote_size_usd": Decimal(10), "inventory_skew_bps_per_share": Decimal(10)}
    params.update(overrides)
    return Engine([MarketMaking(MMParams(**params))])  # type: ignore[arg-type]


def start(at: float = T0) -> list:
    return [discovered(M, at=at), snapshot(M, "m-yes", [("0.40", "100")], [("0.60", "100")], at=at)]


def test_two_sided_quote_around_mid_with_the_ask_as_a_no_bid():
    intents = feed(engine(), start())
    key = f"mm:m-yes:{intents[0].envelope.causation_id}"
    assert views(intents) == [
        ("market_making", key, "m", "m-yes", "BUY", "0.48", "20.83", "GTC"),
        ("market_making", key, "m", "m-no", "BUY", "0.48", "20.83", "GTC"),  # SELL YES @ 0.52 mirrored
    ]
    assert all(isinstance(i, OrderIntent) and i.post_only for i in intents)


def test_microprice_leans_toward_the_thin_side():
    e = engine(reference="microprice")
    intents = feed(e, [discovered(M), snapshot(M, "m-yes", [("0.40", "300")], [("0.60", "100")])])
    # microprice = (0.40 x 100 + 0.60 x 300) / 400 = 0.55: bid 0.53, ask 0.57 (NO bid 0.43)
    assert [v[5] for v in views(intents)] == ["0.53", "0.43"]


def test_inventory_skews_quotes_and_allows_a_yes_sell_once_settled():
    e = engine()
    intents = feed(e, [fill(M, "m-yes", Side.BUY, "30", status=TradeStatus.MINED), *start()])
    # fair 0.50 - 30 x 0.001 = 0.47: bid 0.45, ask 0.49 as a SELL of held YES
    assert [(v[3], v[4], v[5]) for v in views(intents)] == [("m-yes", "BUY", "0.45"), ("m-yes", "SELL", "0.49")]


def test_provisional_inventory_skews_but_is_not_sold():
    intents = feed(engine(), [fill(M, "m-yes", Side.BUY, "30"), *start()])
    # The same skew, but the 30 YES of a MATCHED trade are not on chain: the ask is the mirror BUY of NO.
    assert [(v[3], v[4], v[5]) for v in views(intents)] == [("m-yes", "BUY", "0.45"), ("m-no", "BUY", "0.51")]


def test_requotes_wait_for_the_interval_then_cancel_and_replace():
    e = engine()
    first = feed(e, start(at=T0))
    moved = [delta(M, "m-yes", Side.BUY, "0.50", "100", at=T0 + 3)]
    assert feed(e, moved) == []  # inside the 10 s interval
    later = feed(e, [delta(M, "m-yes", Side.BUY, "0.52", "100", at=T0 + 12)])
    old_key = first[0].signal_key
    assert views(later)[0] == ("cancel", "market_making", old_key + ":cancel", "m")
    assert later[0].of_signal_key == old_key  # only the old quote's orders, never another strategy's
    assert [v[5] for v in views(later)[1:]] == ["0.54", "0.42"]  # mid 0.56
    assert all(isinstance(i, OrderIntent) and i.replaces_signal_key == old_key for i in later[1:])
    assert feed(e, [delta(M, "m-yes", Side.BUY, "0.10", "1", at=T0 + 30)]) == []  # same best prices


def test_quotes_never_cross_the_book():
    e = engine()
    short = fill(M, "m-no", Side.BUY, "100")  # net -100 YES: fair 0.50 + 0.10 = 0.60
    intents = feed(e, [short, discovered(M), snapshot(M, "m-yes", [("0.49", "10")], [("0.51", "10")])])
    # bid 0.58 would cross the 0.51 ask: held one tick below it; ask 0.62 -> NO bid 0.38
    assert [v[5] for v in views(intents)] == ["0.50", "0.38"]


def test_a_resolved_market_pulls_the_quotes():
    e = engine()
    first = feed(e, start())
    pulled = feed(e, [MarketResolved(envelope=env(), condition_id="m")])
    assert views(pulled) == [("cancel", "market_making", first[0].signal_key + ":cancel", "m")]
    assert pulled[0].of_signal_key == first[0].signal_key
