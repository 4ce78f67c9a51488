"""Freshness and book states: a token's cadence decides when it is probed; a probe tells a quiet market
(same book: no status, longer wait) from a frozen feed (moved book: peers stale, book rebuilt, connection
replaced); a gap is reported before its resync and VALID after; an unknown event type inside a batch is a
counted venue change that does not cost the frame's other events."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
from prometheus_client import REGISTRY

from services.ingest.feed import PROBES_IN_FLIGHT_MAX, Feed
from services.ingest.freshness import BookStates, Freshness
from services.ingest.shards import ShardMap
from shared.messages import (
    BookDelta,
    BookSnapshot,
    BookState,
    BookStatus,
    MarketInfo,
    TickSizeChanged,
    TokenInfo,
    replace,
)
from shared.polymarket.gamma import decode_markets
from shared.polymarket.schemas import decode_rest_book
from shared.streams import CONTROL, events_stream
from tests.helpers import eventually
from tests.ingest.conftest import MARKET, NO, YES, RefBook, price_change
from tests.ingest.paper import ingest_settings


def test_a_token_is_probed_after_its_own_cadence_and_backs_off_while_quiet():
    fresh = Freshness(floor_secs=2.0, cadence_factor=5.0, cap_secs=120.0)
    fresh.track("busy", 0.0)
    fresh.track("quiet", 0.0)
    for i in range(1, 101):  # an event every 0.1 s
        fresh.heard("busy", i * 0.1)
    assert fresh.threshold("busy") == pytest.approx(2.0)  # 5 x 0.1 s is under the floor
    fresh.heard("quiet", 30.0)
    fresh.heard("quiet", 90.0)  # gaps of 30 s and 60 s: a market that is seldom traded
    assert fresh.threshold("quiet") > 100
    assert fresh.due(12.1) == ["busy"]
    fresh.probe_started("busy")
    assert fresh.due(12.5) == []  # one probe at a time
    fresh.probe_done("busy", 12.5, quiet=True)
    assert fresh.due(14.0) == []  # unchanged book: the next probe waits twice as long
    assert fresh.due(16.6) == ["busy"]
    fresh.heard("busy", 17.0)  # data again: the silence counts as one threshold-long gap at most
    assert fresh.threshold("busy") < 3
    assert fresh.due(120.0 + 90.0 + 0.1) == ["busy", "quiet"]  # never longer than the cap


def test_book_states_report_each_change_once_per_epoch():
    states = BookStates()
    assert states.set("a", "m", BookState.VALID, "snapshot", 1, 0.0) is not None
    assert states.set("a", "m", BookState.VALID, "snapshot", 1, 1.0) is None
    gap = states.set("a", "m", BookState.GAP, "hash_mismatch", 1, 2.0)
    assert gap is not None and gap.reason == "hash_mismatch"
    assert states.set("a", "m", BookState.GAP, "crossed", 1, 3.0) is None  # the first reason stands
    assert states.set("a", "m", BookState.VALID, "snapshot", 2, 4.0).reason == ""
    assert states.not_valid() == []


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # seconds: REST answers are stamped after the frames (1.7e12 ms)

    def __call__(self) -> float:
        return self.now


def _info() -> MarketInfo:
    return MarketInfo(condition_id=MARKET, question="q", slug="s", tick_size="0.01", min_order_size=5,
                      tokens=(TokenInfo(token_id=YES, outcome="Yes"), TokenInfo(token_id=NO, outcome="No")))


async def _feed(bus, http, clock: Clock, venue: dict[str, RefBook]) -> Feed:
    feed = Feed(ingest_settings(resync_min_interval_secs=0), bus, ShardMap(("main",), {}), http=http, clock=clock)
    feed.track_market(_info())

    async def fetch_book(asset: str) -> object:  # REST /book as the venue has it now
        return decode_rest_book(json.dumps(venue[asset].book_frame(str(int(clock.now * 1000)))))

    feed.fetch_book = fetch_book  # type: ignore[method-assign]
    await feed.on_frame(json.dumps([venue[YES].book_frame(), venue[NO].book_frame()]))
    return feed


async def _statuses(bus) -> list[BookStatus]:
    return [m for _, m in await bus.history(events_stream("main")) if isinstance(m, BookStatus)]


def _venue() -> dict[str, RefBook]:
    return {YES: RefBook(YES, bids=[("0.40", "10")], asks=[("0.45", "5")]),
            NO: RefBook(NO, bids=[("0.55", "5")], asks=[("0.60", "10")])}


async def test_a_quiet_market_is_probed_and_stays_valid(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        assert {s.token_id: s.state for s in await _statuses(bus)} == {YES: BookState.VALID, NO: BookState.VALID}
        frozen: list[str] = []
        feed.on_frozen = lambda asset: _record(frozen, asset)
        clock.now += 3
        assert await feed.probe(YES) == "quiet"
        assert len(await _statuses(bus)) == 2 and frozen == []


async def _record(into: list[str], asset: str) -> None:
    into.append(asset)


async def test_a_frozen_feed_halts_the_connections_tokens_rebuilds_and_replaces_it(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        frozen: list[str] = []
        feed.on_frozen = lambda asset: _record(frozen, asset)
        feed.connection_peers = lambda asset: (YES, NO)
        venue[YES].apply("BUY", "0.42", "7")  # the venue's book moved; the socket said nothing
        clock.now += 3
        feed.maintain()  # YES and NO are silent past the floor: both probed
        await eventually(lambda: _counted(feed, "probe_frozen", "probe_quiet"))
        assert frozen == [YES]
        statuses = await _statuses(bus)
        stale = [(s.token_id, s.reason) for s in statuses if s.state is BookState.STALE]
        assert stale == [(YES, "frozen_feed"), (NO, "frozen_feed")]
        assert statuses[-1].token_id == YES and statuses[-1].state is BookState.VALID  # rebuilt from REST
        snapshots = [m for _, m in await bus.history(events_stream("main")) if isinstance(m, BookSnapshot)]
        assert snapshots[-1].token_id == YES and snapshots[-1].bids[0].price == Decimal("0.42")
        assert feed.books.books[YES].wire_bids() == [("0.40", "10"), ("0.42", "7")]


async def test_a_gap_is_reported_then_valid_after_the_resync(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        venue[YES].change("BUY", "0.41", "3", "1700000000001")  # this one never arrives
        entry = venue[YES].change("BUY", "0.42", "4", "1700000000002")
        await feed.on_frame(json.dumps(price_change([entry], "1700000000002")))
        gap = (await _statuses(bus))[-1]
        assert gap.token_id == YES and gap.state is BookState.GAP and gap.reason == "hash_mismatch"
        last = await eventually(lambda: _last_valid(bus))
        assert last.token_id == YES and last.state is BookState.VALID and last.epoch > gap.epoch
        assert feed.books.books[YES].wire_bids() == venue[YES].wire_bids()


async def _counted(feed: Feed, *names: str) -> bool:
    return all(feed.counts.get(name) for name in names)


async def _last_valid(bus) -> BookStatus | None:
    last = (await _statuses(bus))[-1]
    return last if last.state is BookState.VALID else None


def _unexpected(channel: str, kind: str, field: str) -> float:
    value = REGISTRY.get_sample_value("polydesk_venue_unexpected_total",
                                      {"channel": channel, "type": kind, "field": field})
    return value or 0.0


async def test_an_unknown_event_type_in_a_batch_costs_nothing_else(bus, caplog):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        before = _unexpected("market", "order_book_v9", "<event_type>")
        entry = venue[YES].change("BUY", "0.41", "3", "1700000000001")
        frame = [{"event_type": "order_book_v9", "market": MARKET, "x": 1},
                 {**price_change([entry], "1700000000001"), "sequence": 17}]
        await feed.on_frame(json.dumps(frame))
        await feed.on_frame(json.dumps(frame))
        assert feed.counts["malformed"] == 0
        deltas = [m for _, m in await bus.history(events_stream("main")) if isinstance(m, BookDelta)]
        assert len(deltas) == 2 and deltas[0].changes[0].token_id == YES
        assert _unexpected("market", "order_book_v9", "<event_type>") == before + 2
        assert _unexpected("market", "price_change", "sequence") >= 2
        logged = [r for r in caplog.records if "venue change" in r.getMessage() and "order_book_v9" in r.getMessage()]
        assert len(logged) <= 1  # once per process (an earlier test may have logged it already)


async def test_a_tick_size_change_goes_to_events_and_control_and_the_books_resync(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        await feed.on_frame(json.dumps({"event_type": "tick_size_change", "asset_id": YES, "market": MARKET,
                                        "old_tick_size": "0.01", "new_tick_size": "0.001",
                                        "timestamp": "1700000000005"}))
        (control,) = [m for _, m in await bus.history(CONTROL)]
        assert isinstance(control, TickSizeChanged) and control.new_tick_size == Decimal("0.001")
        events = [m for _, m in await bus.history(events_stream("main"))]
        assert any(isinstance(m, TickSizeChanged) for m in events)
        resyncing = {s.token_id for s in await _statuses(bus) if s.state is BookState.RESYNCING}
        assert resyncing == {YES, NO}  # the tick is the market's: both books start a new epoch
        await eventually(lambda: _counted(feed, "resyncs"))


def test_gamma_fields_we_do_not_know_are_counted_and_the_market_still_decoded():
    market = {"conditionId": "0xc", "question": "q", "clobTokenIds": '["1","2"]', "outcomes": '["Yes","No"]',
              "orderPriceMinTickSize": 0.01, "volume1wk": 3, "quantumFlux": True}
    before_new, before_known = _unexpected("gamma", "market", "quantumFlux"), _unexpected("gamma", "market",
                                                                                          "volume1wk")
    decoded, skipped = decode_markets([market])
    assert skipped == 0 and decoded[0].conditionId == "0xc"
    assert _unexpected("gamma", "market", "quantumFlux") == before_new + 1
    assert _unexpected("gamma", "market", "volume1wk") == before_known  # known to be sent, just not modelled


async def test_probes_are_capped_so_many_quiet_markets_do_not_flood_rest(bus):
    clock = Clock()
    async with httpx.AsyncClient() as http:
        feed = Feed(ingest_settings(), bus, ShardMap(("main",), {}), http=http, clock=clock)
        books = {}
        for n in range(12):
            market, token = f"0x{n:064x}", f"9{n:03d}"
            feed.track_market(MarketInfo(condition_id=market, question="q", slug="s", tick_size="0.01",
                                         min_order_size=5, tokens=(TokenInfo(token_id=token, outcome="Yes"),)))
            books[token] = RefBook(token, bids=[("0.40", "10")], asks=[("0.45", "5")], market=market)
            await feed.on_frame(json.dumps(books[token].book_frame()))
        started: list[str] = []
        release = asyncio.Event()

        async def fetch_book(asset: str) -> object:
            started.append(asset)
            await release.wait()
            return decode_rest_book(json.dumps(books[asset].book_frame()))

        feed.fetch_book = fetch_book  # type: ignore[method-assign]
        clock.now += 10
        feed.maintain()
        feed.maintain()  # a second pass while the first probes are in flight adds none
        await eventually(lambda: _started(started, PROBES_IN_FLIGHT_MAX))
        assert len(started) == PROBES_IN_FLIGHT_MAX
        release.set()
        await eventually(lambda: _counted(feed, "probe_quiet"))
        feed.maintain()  # the rest are probed on a later pass
        await eventually(lambda: _started(started, 12))


async def _started(started: list[str], n: int) -> bool:
    return len(started) == n


async def test_gamma_showing_a_new_tick_is_handled_like_the_market_channels_tick_size_change(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        assert feed.gamma_tick_change(_info()) == []  # the same tick: nothing to do
        outputs = feed.gamma_tick_change(replace(_info(), tick_size=Decimal("0.001")))
        ticks = [(stream, m) for stream, m in outputs if isinstance(m, TickSizeChanged)]
        assert {stream for stream, _ in ticks} == {CONTROL, events_stream("main")}
        assert {m.old_tick_size for _, m in ticks} == {Decimal("0.01")}
        resyncing = {m.token_id for _, m in outputs if isinstance(m, BookStatus) and m.state is BookState.RESYNCING}
        assert resyncing == {YES, NO}
        assert feed.gamma_tick_change(replace(_info(), tick_size=Decimal("0.001"))) == []  # once


async def test_a_rest_answer_not_newer_than_the_feed_proves_nothing(bus):
    clock, venue = Clock(), _venue()
    async with httpx.AsyncClient() as http:
        feed = await _feed(bus, http, clock, venue)
        frozen: list[str] = []
        feed.on_frozen = lambda asset: _record(frozen, asset)
        venue[YES].apply("BUY", "0.42", "7")

        async def cached_book(asset: str) -> object:  # a REST answer stamped before the last frame we had
            return decode_rest_book(json.dumps(venue[asset].book_frame("1600000000000")))

        feed.fetch_book = cached_book  # type: ignore[method-assign]
        clock.now += 3
        assert await feed.probe(YES) == "inconclusive"
        assert frozen == [] and not [s for s in await _statuses(bus) if s.state is BookState.STALE]
