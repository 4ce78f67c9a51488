"""Copy trading driven by scripted events: proportional size, min/max, price guard, sells against inventory."""

from __future__ import annotations

from decimal import Decimal

from services.strategy.engine import Engine
from services.strategy.strategies.copy import CopyParams, CopyTrading
from shared.messages import BookState, BookStatus, Side, TradeStatus
from tests.strategy.scenario import discovered, env, feed, fill, info, snapshot, trade, views

M = info("m1")
YES, NO = "m1-yes", "m1-no"


def engine(**overrides: object) -> Engine:
    params: dict[str, object] = {"wallets": frozenset({"0xleader"}), "size_ratio": Decimal("0.5"),
                                 "min_size_usd": Decimal(1), "max_size_usd": Decimal(20),
                                 "price_guard_bps": Decimal(200)}
    params.update(overrides)
    return Engine([CopyTrading(CopyParams(**params))])  # type: ignore[arg-type]


def book(bid: str = "0.49", ask: str = "0.51") -> list:
    return [discovered(M), snapshot(M, YES, [(bid, "500")], [(ask, "500")])]


def test_a_leader_buy_is_copied_at_the_ask_with_a_proportional_size():
    intents = feed(engine(), [*book(), trade(M, YES, Side.BUY, "20", "0.50", key="tx-a")])
    # 20 x 0.5 = 10 shares, $5.10 at the ask: inside [1, 20].
    assert views(intents) == [("copy", "copy:tx-a", "m1", YES, "BUY", "0.51", "10.00", "FAK")]
    assert intents[0].reason.startswith("copy_buy:")


def test_size_is_capped_by_max_and_raised_to_min_usd():
    big = feed(engine(), [*book(), trade(M, YES, Side.BUY, "1000", "0.50", key="big")])
    small = feed(engine(min_size_usd=Decimal(3)), [*book(), trade(M, YES, Side.BUY, "2", "0.50", key="small")])
    assert views(big)[0][6] == "39.21"  # $20 / 0.51, floored to the size step
    assert views(small)[0][6] == "5.88"  # $3 / 0.51


def test_nothing_when_below_the_market_minimum_size():
    intents = feed(engine(min_size_usd=Decimal(0)), [*book(), trade(M, YES, Side.BUY, "2", "0.50")])
    assert intents == []  # 1 share < 5


def test_the_price_guard_skips_a_moved_book():
    moved = feed(engine(), [*book(ask="0.53"), trade(M, YES, Side.BUY, "20", "0.50")])
    at_guard = feed(engine(), [*book(ask="0.52"), trade(M, YES, Side.BUY, "20", "0.50", key="ok")])
    assert moved == []  # 0.53 > 0.50 + 0.02
    assert len(at_guard) == 1


def test_other_wallets_and_unknown_markets_are_ignored():
    other = feed(engine(), [*book(), trade(M, YES, Side.BUY, "20", "0.50", wallet="0xsomeone")])
    unknown = feed(engine(), [trade(M, YES, Side.BUY, "20", "0.50")])
    assert other == [] and unknown == []


def test_sells_are_mirrored_only_against_own_settled_inventory():
    no_inventory = feed(engine(), [*book(), trade(M, YES, Side.SELL, "20", "0.50", key="s1")])
    provisional = feed(engine(), [*book(), fill(M, YES, Side.BUY, "6"), trade(M, YES, Side.SELL, "20", "0.50")])
    e = engine()
    settled = fill(M, YES, Side.BUY, "6", status=TradeStatus.MINED)
    intents = feed(e, [*book(), settled, trade(M, YES, Side.SELL, "20", "0.50", key="s2")])
    assert no_inventory == [] and provisional == []
    # The leader's 20 x 0.5 = 10 shares, but only 6 are held.
    assert views(intents) == [("copy", "copy:s2", "m1", YES, "SELL", "0.49", "6.00", "FAK")]


def test_a_redelivered_trade_yields_the_same_intent_id():
    e = engine()
    leader = trade(M, YES, Side.BUY, "20", "0.50", key="tx-r")
    first = feed(e, [*book(), leader])
    again = feed(e, [leader])
    assert [i.envelope.message_id for i in first] == [i.envelope.message_id for i in again]
    assert first[0].envelope.causation_id == leader.envelope.message_id


def status(state: BookState, epoch: int = 0, reason: str = "hash_mismatch") -> BookStatus:
    return BookStatus(envelope=env(), market=M.condition_id, token_id=YES, state=state, reason=reason, epoch=epoch)


def test_nothing_is_copied_on_a_book_ingest_reports_not_valid_until_a_fresh_snapshot():
    leader = [trade(M, YES, Side.BUY, "20", "0.50", key=k) for k in ("k1", "k2", "k3", "k4")]
    copy = engine()
    for state in (BookState.GAP, BookState.STALE, BookState.RESYNCING):
        assert feed(copy, [*book(), status(state), leader[0]]) == []
    # A VALID status for another epoch is not a snapshot of the book held: still nothing.
    assert feed(copy, [status(BookState.VALID, epoch=1), leader[1]]) == []
    # A VALID status naming the epoch held (a probe found the venue's book unchanged): trading again.
    assert len(feed(copy, [status(BookState.VALID, epoch=0), leader[2]])) == 1
    # A fresh snapshot (new epoch) after a gap: trading again.
    fresh = snapshot(M, YES, [("0.49", "500")], [("0.51", "500")], epoch=2)
    assert len(feed(copy, [status(BookState.GAP), fresh, leader[3]])) == 1
