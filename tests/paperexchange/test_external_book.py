"""The external-book model (paperexchange/external_book.py): our orders queue behind the source's size at
their level, fill only from the source's trades once what was ahead is gone, partly when a print is small,
and the exchange's book always equals the source's plus ours."""

from __future__ import annotations

import pytest

from paperexchange.core.clock import ManualClock
from paperexchange.core.config import Settings
from paperexchange.sim.external_book import (
    BookBatch,
    ExternalBooks,
    Level,
    Print,
    batches_from_frames,
)
from paperexchange.venue import Venue
from tests.paperexchange.test_matching import ALICE, fund, post

T0 = 1_800_000_000_000


@pytest.fixture
def venue() -> Venue:
    return Venue(Settings(default_markets=False, settlement_delay_secs=2.0), ManualClock(start=T0 / 1000))


@pytest.fixture
def market(venue):
    return venue.create_market(question="External book market", min_order_size=1)


@pytest.fixture
def books(venue, market) -> ExternalBooks:
    external = ExternalBooks(venue)
    yes = market.token_ids[0]
    external.apply(BookBatch(T0, snapshots={yes: ([("0.40", "100"), ("0.39", "50")], [("0.45", "80")])}))
    return external


def levels(venue, market, side):
    return [(p / 10_000, s / 1e6) for p, s in venue.exchange.book(market.condition_id).levels(side)]


def our_trades(venue) -> list:
    return [
        t
        for t in venue.exchange.trades.values()
        if any(o.owner == f"key-{ALICE}" for o in (t.taker, *t.makers))
    ]


def test_snapshot_becomes_the_book(venue, market, books):
    assert levels(venue, market, "BUY") == [(0.39, 50), (0.40, 100)]
    assert levels(venue, market, "SELL") == [(0.45, 80)]


def test_our_bid_joins_behind_and_fills_only_after_the_size_ahead_trades(venue, market, books):
    yes = market.token_ids[0]
    fund(venue, ALICE, 1000)
    post(venue, market, ALICE, 0, "BUY", 0.40, 30)
    ours = next(o for o in venue.exchange.orders.values() if o.owner == f"key-{ALICE}")
    assert books.queue_ahead(ours) == 100_000_000
    # A print of 60 at 0.40 (a seller hitting the bids) consumes 60 of the 100 ahead: no fill for us.
    books.apply(
        BookBatch(T0 + 1, prints=[Print(yes, "SELL", "0.40", "60")], levels=[Level(yes, "BUY", "0.40", "40")])
    )
    assert our_trades(venue) == [] and books.queue_ahead(ours) == 40_000_000
    # The source's level moves to 40: its 30 of ours on top, so the exchange shows 70.
    assert (0.40, 70) in levels(venue, market, "BUY")
    # A print of 50: the last 40 ahead, then 10 of ours (a partial fill).
    books.apply(
        BookBatch(T0 + 2, prints=[Print(yes, "SELL", "0.40", "50")], levels=[Level(yes, "BUY", "0.40", "0")])
    )
    [trade] = our_trades(venue)
    part = next(p for p in trade.parts if p.order is ours)
    assert part.size == 10_000_000 and ours.remaining == 20_000_000 and ours.status == "LIVE"
    # The level is gone at the source; only what is left of ours rests there.
    assert (0.40, 20) in levels(venue, market, "BUY")


def test_growth_goes_behind_us_and_cancels_come_from_behind_first(venue, market, books):
    yes = market.token_ids[0]
    fund(venue, ALICE, 1000)
    post(venue, market, ALICE, 0, "BUY", 0.40, 30)
    ours = next(o for o in venue.exchange.orders.values() if o.owner == f"key-{ALICE}")
    books.apply(BookBatch(T0 + 1, levels=[Level(yes, "BUY", "0.40", "150")]))  # 50 join behind us
    assert books.queue_ahead(ours) == 100_000_000
    books.apply(BookBatch(T0 + 2, levels=[Level(yes, "BUY", "0.40", "120")]))  # 30 cancel: from behind
    assert books.queue_ahead(ours) == 100_000_000
    books.apply(BookBatch(T0 + 3, levels=[Level(yes, "BUY", "0.40", "70")]))  # 50 more: 20 behind, 30 ahead
    assert books.queue_ahead(ours) == 70_000_000
    assert our_trades(venue) == []  # cancels never fill us


def test_a_print_through_our_price_fills_us_first(venue, market, books):
    yes = market.token_ids[0]
    fund(venue, ALICE, 1000, **{yes: 100})
    post(venue, market, ALICE, 0, "SELL", 0.44, 20)  # better than the source's 0.45 ask
    books.apply(
        BookBatch(T0 + 1, prints=[Print(yes, "BUY", "0.45", "25")], levels=[Level(yes, "SELL", "0.45", "75")])
    )
    [trade] = our_trades(venue)
    ours = next(p for p in trade.parts if p.order.owner == f"key-{ALICE}")
    assert ours.size == 20_000_000 and ours.yes_price == 4400  # a maker trades at its own price
    assert levels(venue, market, "SELL") == [(0.45, 75)]


def test_our_taker_order_takes_external_size_which_does_not_come_back(venue, market, books):
    yes = market.token_ids[0]
    fund(venue, ALICE, 1000)
    post(venue, market, ALICE, 0, "BUY", 0.45, 30, order_type="FAK")
    assert levels(venue, market, "SELL") == [(0.45, 50)]
    # The source, which never saw our trade, still says 80: we see 50. When it drops to 60, 20 of what we
    # took is accounted for; 60 - 10 = 50 remains.
    books.apply(BookBatch(T0 + 1, levels=[Level(yes, "SELL", "0.45", "80")]))
    assert levels(venue, market, "SELL") == [(0.45, 50)]
    books.apply(BookBatch(T0 + 2, levels=[Level(yes, "SELL", "0.45", "60")]))
    assert levels(venue, market, "SELL") == [(0.45, 50)]


def test_source_size_crossing_our_order_is_held_back_until_it_no_longer_crosses(venue, market, books):
    yes = market.token_ids[0]
    fund(venue, ALICE, 1000)
    post(venue, market, ALICE, 0, "BUY", 0.42, 10)
    books.apply(BookBatch(T0 + 1, levels=[Level(yes, "SELL", "0.41", "25")]))
    assert levels(venue, market, "SELL") == [(0.45, 80)] and our_trades(venue) == []
    ours = next(o for o in venue.exchange.orders.values() if o.owner == f"key-{ALICE}")
    venue.exchange.cancel(ours.owner, [ours.id])
    books.apply(BookBatch(T0 + 2))
    assert levels(venue, market, "SELL") == [(0.41, 25), (0.45, 80)]


def test_no_token_updates_are_read_as_the_mirror_of_the_yes_book(venue, market, books):
    no = market.token_ids[1]
    books.apply(BookBatch(T0 + 1, levels=[Level(no, "BUY", "0.50", "10")]))
    assert (0.50, 10) not in levels(venue, market, "SELL")  # NO updates are ignored: YES is the book


def test_frames_group_by_timestamp():
    frames = [
        (
            None,
            [
                {
                    "event_type": "book",
                    "asset_id": "a",
                    "bids": [{"price": "0.4", "size": "1"}],
                    "asks": [],
                    "timestamp": "5",
                }
            ],
        ),
        (
            None,
            {
                "event_type": "price_change",
                "timestamp": "5",
                "price_changes": [{"asset_id": "a", "side": "BUY", "price": "0.4", "size": "2"}],
            },
        ),
        (
            None,
            {
                "event_type": "last_trade_price",
                "asset_id": "a",
                "side": "SELL",
                "price": "0.4",
                "size": "1",
                "timestamp": "6",
            },
        ),
        (None, {"event_type": "best_bid_ask", "asset_id": "a", "timestamp": "6"}),
    ]
    first, second = batches_from_frames(frames)
    assert first.ts_ms == 5 and first.snapshots["a"] == ([("0.4", "1")], []) and len(first.levels) == 1
    assert second.ts_ms == 6 and second.prints == [Print("a", "SELL", "0.4", "1")]


def test_a_level_moving_across_the_spread_within_a_batch_does_not_trade(venue, market, books):
    yes = market.token_ids[0]
    # The 0.40 bid leaves and an ask appears at 0.40 at the same instant: decreases are applied first.
    books.apply(BookBatch(T0 + 1, levels=[Level(yes, "SELL", "0.40", "10"), Level(yes, "BUY", "0.40", "0")]))
    assert venue.exchange.trades == {}
    assert levels(venue, market, "SELL") == [(0.40, 10), (0.45, 80)]


def test_emptied_levels_are_forgotten(venue, market, books):
    yes = market.token_ids[0]
    books.apply(BookBatch(T0 + 1, levels=[Level(yes, "BUY", "0.39", "0"), Level(yes, "BUY", "0.38", "5")]))
    assert len(books._source) == 3  # 0.40 and 0.38 bids, the 0.45 ask
    assert books.best(market.condition_id) == (4000, 4500)
