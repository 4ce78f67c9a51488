"""Trades as Polymarket reports them, and settlement as on chain (venue object, manual clock).

One taker order that reaches several makers is ONE trade: one id, `size` the taker's whole fill, every
maker order in `maker_orders[]` with its own matched amount and price, YES and NO makers mixed (capture
tests/fixtures/polymarket-captures/python-ws/user_trade1.json).
Tokens bought reach the wallet when the trade is MINED; selling them before is refused with the venue's
`not enough balance / allowance`; a FAILED trade gives everything back.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from paperexchange.core.clock import ManualClock
from paperexchange.core.config import Settings
from paperexchange.core.errors import VenueError
from paperexchange.core.ledger import COLLATERAL
from paperexchange.venue import Venue
from tests.fixtures import fixture_path
from tests.paperexchange.test_matching import ALICE, BOB, CAROL, bal, fund, post

DAVE = "0x" + "d" * 40
CAPTURE = "polymarket-captures/python-ws/user_trade1.json"


class Recorder:
    def __init__(self) -> None:
        self.user_frames: list[tuple[str, dict]] = []

    def market(self, asset_ids, message, custom=False) -> None:
        pass

    def user(self, owner, condition_id, message) -> None:
        self.user_frames.append((owner, message))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def venue(clock) -> Venue:
    venue = Venue(Settings(default_markets=False, settlement_delay_secs=2.0), clock)
    venue.exchange.sink = Recorder()
    return venue


@pytest.fixture
def market(venue):
    return venue.create_market(question="Trades test market", min_order_size=1)


def _sweep(venue, market):
    """DAVE buys 12 YES at up to 0.56 against CAROL's YES ask 0.54, ALICE's NO bid 0.45 (a YES ask at 0.55)
    and BOB's YES ask 0.55: three makers, YES and NO mixed, one taker order."""
    yes = market.token_ids[0]
    fund(venue, ALICE, 100)
    fund(venue, BOB, 0, **{yes: 100})
    fund(venue, CAROL, 0, **{yes: 100})
    fund(venue, DAVE, 100)
    post(venue, market, CAROL, 0, "SELL", 0.54, 5)
    post(venue, market, ALICE, 1, "BUY", 0.45, 5)
    post(venue, market, BOB, 0, "SELL", 0.55, 5)
    return post(venue, market, DAVE, 0, "BUY", 0.56, 12)


def _trade_frames(venue) -> dict[str, dict]:
    return {owner: m for owner, m in venue.exchange.sink.user_frames if m["event_type"] == "trade"}


def test_one_taker_order_against_three_makers_is_one_trade(venue, market):
    yes, no = market.token_ids
    response = _sweep(venue, market)
    (trade,) = venue.exchange.trades.values()
    assert response["tradeIDs"] == [trade.id]
    assert (response["makingAmount"], response["takingAmount"]) == ("6.55", "12")  # 2.7 + 2.75 + 1.1
    frames = _trade_frames(venue)
    assert set(frames) == {"key-" + w for w in (DAVE, CAROL, ALICE, BOB)}  # one frame per party
    taker = frames["key-" + DAVE]
    assert taker["trader_side"] == "TAKER" and taker["size"] == "12" and taker["side"] == "BUY"
    assert taker["asset_id"] == yes and taker["price"] == "0.5458"  # 6.55 / 12, the taker's average
    assert [(m["owner"], m["asset_id"], m["side"], m["price"], m["matched_amount"]) for m in taker["maker_orders"]] == [
        ("key-" + CAROL, yes, "SELL", "0.54", "5"), ("key-" + ALICE, no, "BUY", "0.45", "5"),
        ("key-" + BOB, yes, "SELL", "0.55", "2")]
    for maker in (ALICE, BOB, CAROL):
        frame = frames["key-" + maker]
        assert frame["trader_side"] == "MAKER" and frame["id"] == trade.id
        # The top level is the taker's; the maker finds itself in maker_orders[].
        assert (frame["owner"], frame["trade_owner"], frame["maker_address"]) == ("key-" + DAVE,) * 2 + (DAVE,)
        assert frame["maker_orders"] == taker["maker_orders"]


def test_the_wire_shape_matches_the_captured_multi_maker_trade(venue, market):
    _sweep(venue, market)
    captured = json.loads(fixture_path(CAPTURE).read_text())
    ours = _trade_frames(venue)["key-" + ALICE]
    assert set(captured) <= set(ours)
    assert set(captured["maker_orders"][0]) <= set(ours["maker_orders"][0])
    # The capture's invariants: size is the sum of the makers' amounts; the top level is the taker's.
    for frame in (captured, ours):
        assert Decimal(frame["size"]) == sum(Decimal(m["matched_amount"]) for m in frame["maker_orders"])
        assert frame["owner"] == frame["trade_owner"] and frame["trader_side"] == "MAKER"
        assert {m["outcome"] for m in frame["maker_orders"]} == {"Yes", "No"}


def test_rest_trades_list_the_same_trade_for_taker_and_maker(venue, market):
    _sweep(venue, market)
    (trade,) = venue.exchange.trades.values()
    assert venue.exchange.trades_of["key-" + DAVE] == [trade] == venue.exchange.trades_of["key-" + ALICE]


def test_bought_tokens_are_sellable_only_once_mined(venue, market, clock):
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 100)
    fund(venue, CAROL, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 10)
    post(venue, market, BOB, 0, "BUY", 0.50, 10)
    post(venue, market, CAROL, 0, "BUY", 0.40, 10)  # a bid BOB could sell into
    with pytest.raises(VenueError) as raised:
        post(venue, market, BOB, 0, "SELL", 0.40, 10)
    assert raised.value.message.startswith("not enough balance / allowance")
    assert bal(venue, ALICE) == 0  # the sale's pUSD is not there yet either
    clock.advance(2.0)
    venue.tick()
    (trade,) = venue.exchange.trades.values()
    assert trade.status == "MINED" and bal(venue, BOB, yes) == 10 and bal(venue, ALICE) == 5
    assert post(venue, market, BOB, 0, "SELL", 0.40, 10)["status"] == "matched"


def test_a_failed_trade_gives_everything_back(venue, market, clock):
    yes, no = market.token_ids
    venue.settlement.fail_next(1)
    _sweep(venue, market)
    assert (bal(venue, DAVE), bal(venue, ALICE)) == (93.45, 97.75)
    for _ in range(2):
        clock.advance(2.0)
        venue.tick()
    (trade,) = venue.exchange.trades.values()
    assert trade.status == "FAILED"
    assert (bal(venue, DAVE), bal(venue, DAVE, yes)) == (100, 0)
    assert (bal(venue, ALICE), bal(venue, ALICE, no)) == (100, 0)
    assert (bal(venue, BOB, yes), bal(venue, BOB)) == (100, 0)
    assert (bal(venue, CAROL, yes), bal(venue, CAROL)) == (100, 0)
    assert venue.exchange.ledger.balance(DAVE, COLLATERAL) == 100_000_000


def test_default_settlement_timings_are_live_like(clock):
    venue = Venue(Settings(default_markets=False), clock)
    market = venue.create_market(question="Live-like settlement", min_order_size=1)
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 10)
    post(venue, market, BOB, 0, "BUY", 0.50, 10)
    (trade,) = venue.exchange.trades.values()
    seen = {}
    for second in range(1, 181):
        clock.advance(1.0)
        venue.tick()
        seen.setdefault(trade.status, second)
    # MINED tens of seconds after the match, CONFIRMED one to three minutes after it.
    assert 10 <= seen["MINED"] <= 60 and 60 <= seen["CONFIRMED"] <= 180


def _delayed_market(venue):
    return venue.create_market(question="Taker delay market", min_order_size=1, taker_delay=True)


def test_taker_delay_answers_delayed_and_matches_250_ms_later(venue, clock):
    """`itode` markets (docs get-clob-market-info: a 250 ms taker delay): a marketable order is `delayed`."""
    market = _delayed_market(venue)
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 100)
    post(venue, market, ALICE, 0, "SELL", 0.50, 10)
    response = post(venue, market, BOB, 0, "BUY", 0.50, 10, order_type="FOK", spend=5.0)
    assert response["status"] == "delayed" and response["tradeIDs"] == []
    assert venue.exchange.trades == {} and venue.exchange.orders[response["orderID"]].status == "DELAYED"
    clock.advance(0.2)
    venue.tick()
    assert venue.exchange.trades == {}
    clock.advance(0.06)
    venue.tick()
    (trade,) = venue.exchange.trades.values()
    assert trade.taker.id == response["orderID"] and trade.size == 10_000_000
    frames = [m for owner, m in venue.exchange.sink.user_frames if owner == "key-" + BOB and m["event_type"] == "order"]
    assert [(m["type"], m["status"]) for m in frames] == [("PLACEMENT", "DELAYED"), ("UPDATE", "MATCHED")]


def test_a_delayed_fok_that_cannot_fill_then_arrives_as_a_cancellation(venue, clock):
    market = _delayed_market(venue)
    yes = market.token_ids[0]
    fund(venue, ALICE, 0, **{yes: 10})
    fund(venue, BOB, 100)
    resting = post(venue, market, ALICE, 0, "SELL", 0.50, 10)
    response = post(venue, market, BOB, 0, "BUY", 0.50, 10, order_type="FOK", spend=5.0)
    assert response["status"] == "delayed"
    venue.exchange.cancel("key-" + ALICE, [resting["orderID"]])  # the liquidity leaves during the delay
    clock.advance(0.3)
    venue.tick()
    assert venue.exchange.trades == {}
    (last,) = [m for owner, m in venue.exchange.sink.user_frames
               if owner == "key-" + BOB and m["event_type"] == "order" and m["type"] == "CANCELLATION"]
    assert last["status"] == "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed."
    assert venue.exchange.ledger.reserved(BOB, COLLATERAL) == 0 and bal(venue, BOB) == 100


def test_a_resting_order_is_not_delayed(venue):
    market = _delayed_market(venue)
    fund(venue, BOB, 100)
    assert post(venue, market, BOB, 0, "BUY", 0.40, 10)["status"] == "live"
