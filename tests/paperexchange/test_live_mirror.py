"""Paper trading on live books: a paper exchange mirrors a second paper exchange playing the live venue.

The shadow's books follow the venue's (hash for hash), our marketable orders take the venue's prices
without reaching it, and a resting order of ours fills only after the venue's trades consumed the size
that was ahead of it (paperexchange/sim/live_mirror.py, paperexchange/sim/external_book.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from paperexchange.core.bookview import book_summary
from paperexchange.core.config import Settings
from paperexchange.server import PaperExchangeServer
from paperexchange.sim.external_book import EXTERNAL_OWNER
from paperexchange.sim.live_mirror import EventGrouper, MirrorError, MirrorTarget, load_markets
from paperexchange.venue import Venue
from tests.helpers import eventually
from tests.paperexchange import test_matching
from tests.paperexchange.test_matching import ALICE, BOB, fund, post

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _order_ids_apart_from_the_house(monkeypatch):
    """test_matching's order ids count from 1, as the house's do: start ours far away."""
    monkeypatch.setattr(test_matching, "_ids", itertools.count(10**9))


def mirror_settings(live: PaperExchangeServer, **overrides) -> Settings:
    return Settings(
        port=0,
        admin=True,
        settlement_delay_secs=0.2,
        mirror_gamma_url=live.url + "/gamma",
        mirror_market_ws_url=live.ws_url + "/ws/market",
        **overrides,
    )


def book_levels(server: PaperExchangeServer) -> dict[str, tuple]:
    """Every market's YES book as (bids, asks) of (price, size), read on the server's own loop."""

    def read() -> dict[str, tuple]:
        exchange = server.venue.exchange
        return {
            m.condition_id: (exchange.book(m.condition_id).levels("BUY"), exchange.book(m.condition_id).levels("SELL"))
            for m in exchange.markets.all()
        }

    return server.call(read)


def hashes(server: PaperExchangeServer, timestamp: str) -> dict[str, str]:
    """Each token's book hash as GET /book computes it, at one timestamp."""

    def read() -> dict[str, str]:
        exchange = server.venue.exchange
        return {
            token: book_summary(
                m, exchange.book(m.condition_id), token, timestamp, exchange.last_yes_price(m.condition_id)
            )["hash"]
            for m in exchange.markets.all()
            for token in m.token_ids
        }

    return server.call(read)


def ours(venue: Venue, who: str) -> list:
    return [t for t in venue.exchange.trades.values() if any(o.maker == who for o in (t.taker, *t.makers))]


@pytest.fixture
def live() -> Iterator[PaperExchangeServer]:
    """The "live venue": one market whose book the test sets with house orders."""
    with PaperExchangeServer(Settings(port=0, default_markets=False, settlement_delay_secs=0.2)) as server:
        market = server.call(lambda: server.venue.create_market(question="Mirrored?", min_order_size=1))
        yes = market.token_ids[0]
        for side, price, size in (("BUY", "0.40", "100"), ("BUY", "0.39", "50"), ("SELL", "0.45", "80"),
                                  ("SELL", "0.46", "50")):
            server.call(server.venue.house_order, yes, side, price, size)
        server.call(lambda: fund(server.venue, BOB, 1000, **{yes: 1000}))
        yield server


@pytest.fixture
def shadow(live) -> Iterator[PaperExchangeServer]:
    with PaperExchangeServer(mirror_settings(live)) as server:
        eventually(lambda: book_levels(server) == book_levels(live), timeout=10)
        server.call(fund, server.venue, ALICE, 1000)
        yield server


def live_market(server: PaperExchangeServer):
    return server.venue.exchange.markets.all()[0]


def test_the_shadow_has_the_venues_markets_with_their_ids_and_rules(live, shadow):
    [theirs], [mine] = live.venue.exchange.markets.all(), shadow.venue.exchange.markets.all()
    assert (mine.condition_id, mine.token_ids, mine.tick_size, mine.min_order_size, mine.neg_risk) == (
        theirs.condition_id, theirs.token_ids, theirs.tick_size, theirs.min_order_size, theirs.neg_risk)
    status = httpx.get(shadow.url + "/_paper/mirror").json()
    assert status["markets"] == 1 and status["connected"] == 1 and status["frames"] >= 1


def test_a_marketable_order_takes_the_venues_prices_and_never_reaches_the_venue(live, shadow):
    before = book_levels(live)
    market = live_market(shadow)
    response = shadow.call(lambda: post(shadow.venue, market, ALICE, 0, "BUY", 0.46, 100, order_type="FAK"))
    assert response["status"] == "matched"
    [trade] = ours(shadow.venue, ALICE)
    assert sorted((p.yes_price, p.size) for p in trade.parts) == [(4500, 80_000_000), (4600, 20_000_000)]
    assert all(p.order.owner == EXTERNAL_OWNER for p in trade.parts)
    # The venue never saw it: same book, no order or trade of ours.
    assert book_levels(live) == before and ours(live.venue, ALICE) == []
    assert not [o for o in live.venue.exchange.orders.values() if o.maker == ALICE]
    # What we took stays gone from our copy: 0.45 is empty, 30 of 50 left at 0.46.
    [(_, asks)] = book_levels(shadow).values()
    assert asks == [(4600, 30_000_000)]
    # Someone on the venue buys 110: 80 at 0.45, 30 at 0.46. Once the venue's levels have dropped by at
    # least what we took, our copy is the venue's again (20 at 0.46, not 30 - 20).
    live.call(lambda: post(live.venue, live_market(live), BOB, 0, "BUY", 0.46, 110, order_type="FAK"))
    [(_, live_asks)] = book_levels(live).values()
    assert live_asks == [(4600, 20_000_000)]
    eventually(lambda: book_levels(shadow) == book_levels(live))


def test_a_resting_order_fills_only_after_the_venues_trades_consumed_the_queue_ahead(live, shadow):
    market, yes = live_market(shadow), live_market(shadow).token_ids[0]
    shadow.call(lambda: post(shadow.venue, market, ALICE, 0, "BUY", 0.40, 30))
    mine = next(o for o in shadow.venue.exchange.orders.values() if o.maker == ALICE)
    mirror = shadow.app.state.mirror
    assert shadow.call(mirror.books.queue_ahead, mine) == 100_000_000  # behind the venue's 100 at 0.40
    # New size at 0.40 on the venue joins behind us; a cancel there is taken from behind us first (we
    # cannot tell a cancel from a trade by the size alone: the pessimistic reading keeps our place).
    added = live.call(live.venue.house_order, yes, "BUY", "0.40", "50")
    eventually(lambda: shadow.call(mine_level_size, shadow, mine) == 180_000_000)
    live.call(lambda: live.venue.exchange.cancel("paper-house", [added["orderID"]]))
    eventually(lambda: shadow.call(mine_level_size, shadow, mine) == 130_000_000)
    assert shadow.call(mirror.books.queue_ahead, mine) == 100_000_000
    # A seller takes 60 at 0.40 on the venue: 60 of the 100 ahead of us trade, we do not.
    live.call(lambda: post(live.venue, live_market(live), BOB, 0, "SELL", 0.40, 60, order_type="FAK"))
    eventually(lambda: shadow.call(mirror.books.queue_ahead, mine) == 40_000_000)
    assert ours(shadow.venue, ALICE) == [] and ours(live.venue, ALICE) == []
    # Someone joins at 0.40 on the venue (behind us), then a seller takes 50 there: the 40 that were ahead
    # of us and 10 of the newcomer on the venue; on our copy, the 40 ahead and then 10 of ours (a partial
    # fill at our price; on the venue our order would have stood where the newcomer's 10 were).
    live.call(live.venue.house_order, yes, "BUY", "0.40", "30")
    eventually(lambda: shadow.call(mine_level_size, shadow, mine) == 100_000_000)
    live.call(lambda: post(live.venue, live_market(live), BOB, 0, "SELL", 0.40, 50, order_type="FAK"))
    [trade] = eventually(lambda: ours(shadow.venue, ALICE))
    assert (trade.taker.owner, trade.yes_price) == (EXTERNAL_OWNER, 4000)
    assert next(p.size for p in trade.parts if p.order is mine) == 10_000_000
    assert mine.remaining == 20_000_000 and mine.status == "LIVE"
    # The venue has 20 left at 0.40; our copy shows those and what is left of our order.
    eventually(lambda: (4000, 40_000_000) in book_levels(shadow)[market.condition_id][0])
    assert shadow.call(mirror.books.queue_ahead, mine) == 0 and ours(live.venue, ALICE) == []


def mine_level_size(server: PaperExchangeServer, order) -> int:
    return server.venue.exchange.book(order.condition_id).level_size(order.book_side, order.book_price)


def test_the_shadow_follows_the_default_scenarios_flow_hash_for_hash():
    live_settings = Settings(port=0, scenario="default", speed=20, settlement_delay_secs=0.2)
    with PaperExchangeServer(live_settings) as live, PaperExchangeServer(mirror_settings(live)) as shadow:
        assert {m.condition_id for m in shadow.venue.exchange.markets.all()} == {
            m.condition_id for m in live.venue.exchange.markets.all() if not m.closed}

        def same() -> bool:
            books = book_levels(live)
            if book_levels(shadow) != {cid: books[cid] for cid in book_levels(shadow)}:
                return False
            ours_, theirs = hashes(shadow, "1"), hashes(live, "1")
            return all(ours_[token] == theirs[token] for token in ours_)

        # The flow trades and requotes every few hundred ms: wait for the copy to catch up, twice,
        # with 20 trades on the venue in between.
        eventually(same, timeout=15)
        trades = len(live.venue.exchange.trades)
        eventually(lambda: len(live.venue.exchange.trades) >= trades + 20, timeout=20)
        eventually(same, timeout=15)
        # The scenario's tick-size change (btc to 0.001 at 45 s) and resolution (launch, yes, at 50 s): 2.5 s in.
        eventually(lambda: any(m.closed for m in live.venue.exchange.markets.all()), timeout=20)

        def rules(server: PaperExchangeServer) -> dict:
            return {m.condition_id: (m.tick_size, m.closed, m.winner) for m in server.venue.exchange.markets.all()}

        theirs = {cid: rule for cid, rule in rules(live).items() if cid in rules(shadow)}
        assert {rule[0] for rule in theirs.values()} >= {"0.001"} and any(rule[1] for rule in theirs.values())
        eventually(lambda: rules(shadow) == theirs, timeout=10)
        eventually(same, timeout=15)
        status = httpx.get(shadow.url + "/_paper/mirror").json()
        assert status["errors"] == 0 and status["batches"] > 20, status


def test_an_unreachable_venue_fails_at_start_naming_it():
    venue = Venue(Settings(default_markets=False))
    target = MirrorTarget(gamma_url="http://127.0.0.1:1/gamma", market_ws_url="ws://127.0.0.1:1/ws/market")
    with pytest.raises(MirrorError, match=r"cannot read markets from http://127\.0\.0\.1:1/gamma"):
        load_markets(venue, target, timeout_secs=2)


def test_events_of_one_time_are_applied_together_prints_first():
    now = [0.0]
    grouper = EventGrouper(0.05, clock=lambda: now[0])
    level = {"event_type": "price_change", "timestamp": "7", "market": "m",
             "price_changes": [{"asset_id": "y", "side": "BUY", "price": "0.4", "size": "40"}]}
    trade = {"event_type": "last_trade_price", "timestamp": "7", "asset_id": "y", "side": "SELL",
             "price": "0.4", "size": "60"}
    grouper.add(level, 100)
    now[0] = 0.03
    grouper.add({"event_type": "book", "timestamp": "8", "asset_id": "z", "bids": [], "asks": []}, 100)
    grouper.add(trade, 100)
    now[0] = 0.07
    assert grouper.due() == []  # the trade of time 7 arrived late: its group waits a full window again
    now[0] = 0.09
    [batch7, batch8] = grouper.due()
    assert (batch7.ts_ms, len(batch7.levels), len(batch7.prints)) == (7, 1, 1)
    assert (batch8.ts_ms, list(batch8.snapshots)) == (8, ["z"])


def test_the_exchange_process_stops_at_start_when_the_venue_cannot_be_read():
    done = subprocess.run(
        [sys.executable, "-m", "paperexchange", "--port", "0", "--mirror-gamma-url", "http://127.0.0.1:1/gamma",
         "--mirror-market-ws-url", "ws://127.0.0.1:1/ws/market"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("polydesk paper-exchange: cannot read markets from http://127.0.0.1:1/gamma")
    assert "listening" not in done.stdout
