"""Market data you can trade on, against the paper exchange: a socket that answers PINGs but sends nothing
(`ws_silent`), a dropped price_change (a gap), an unknown event type among live events, and a tick size change
(the executor's side of it: tests/executor/test_tick_change.py). Each ends with
the books equal to the exchange's, and no order approved by risk on a book that was not valid (ingest's
events replayed through risk's tracker and decider)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.messages import BookDelta, BookSnapshot, BookState, TickSizeChanged
from shared.streams import CONTROL
from tests.helpers import eventually
from tests.ingest.market_data_harness import market_data, orders_only_on_valid_books

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_a_silent_socket_on_an_active_market_is_halted_replaced_and_resnapshotted(bus, tmp_path):
    async with market_data(bus) as md:
        await eventually(md.converged, timeout=15)
        md.start_flow()
        await eventually(lambda: _deltas(md), timeout=10)
        before = md.reconnects()
        assert (await md.fault("ws_silent", {}))["silenced"] == 1  # PINGs still answered: PONGs prove nothing
        stale = await eventually(lambda: _stale(md), timeout=15)
        assert {s.reason for s in stale} == {"frozen_feed"} and {s.token_id for s in stale} == set(md.tokens)
        await eventually(lambda: _replaced(md, before), timeout=15)
        await md.stop_flow()
        await eventually(md.converged, timeout=15)
        assert md.feed.counts["probe_frozen"] >= 1
        assert orders_only_on_valid_books(await md.history(), tmp_path) >= 2


async def test_a_dropped_price_change_is_a_gap_then_valid_after_the_resync(bus, tmp_path):
    async with market_data(bus, freshness_floor_secs=30.0) as md:
        await eventually(md.converged, timeout=15)
        await md.fault("ws", {"channel": "market", "drop_next": 1})  # the next event never arrives
        await md.admin.house(md.tokens[0], "BUY", "0.31", "10")  # its price_change is the one dropped
        await md.admin.house(md.tokens[0], "BUY", "0.32", "10")  # this one's hash shows the gap
        gap = await eventually(lambda: _gap(md), timeout=10)
        assert gap.reason == "hash_mismatch"
        await eventually(md.converged, timeout=15)
        assert [p for p, _ in md.feed.books.books[md.tokens[0]].wire_bids()][:2] == ["0.31", "0.32"]
        assert orders_only_on_valid_books(await md.history(), tmp_path) >= 1


async def test_an_unknown_event_type_among_live_events_costs_none_of_them(bus, tmp_path):
    async with market_data(bus, freshness_floor_secs=30.0) as md:
        await eventually(md.converged, timeout=15)
        seen = len(await md.statuses())
        unknown = {"event_type": "order_book_v9", "market": md.feed.books.books[md.tokens[0]].market}
        await md.fault("ws", {"channel": "market", "action": "inject", "events": [unknown]})
        await md.admin.house(md.tokens[0], "BUY", "0.44", "11")  # its price_change follows the unknown event
        await eventually(lambda: _level(md, "0.44"), timeout=10)
        assert md.feed.counts["malformed"] == 0
        assert (await md.statuses())[seen:] == []  # no gap: the change after the unknown event was applied
        await eventually(md.converged, timeout=10)
        orders_only_on_valid_books(await md.history(), tmp_path)


async def _deltas(md) -> bool:
    return any(isinstance(m, BookDelta) for m in await md.history())


async def _stale(md):
    found = [s for s in await md.statuses() if s.state is BookState.STALE]
    return found if len({s.token_id for s in found}) == len(md.tokens) else None


async def _gap(md):
    return next((s for s in await md.statuses() if s.state is BookState.GAP), None)


async def _replaced(md, before: int) -> bool:
    return md.reconnects() > before and all(c.stats.connected for c in md.ws.connections)


async def _level(md, price: str) -> bool:
    return any(p == price for p, _ in md.feed.books.books[md.tokens[0]].wire_bids())


async def test_a_tick_size_change_reaches_events_and_control_and_the_books_come_back_on_the_new_tick(bus, tmp_path):
    async with market_data(bus, freshness_floor_secs=30.0) as md:
        await eventually(md.converged, timeout=15)
        market = md.feed.books.books[md.tokens[0]].market
        seen = len(await md.statuses())
        response = await md.admin.http.post(f"/_paper/markets/{market}/tick-size", json={"tick_size": "0.001"})
        response.raise_for_status()
        control = await eventually(lambda: _control_ticks(bus), timeout=10)
        assert {m.new_tick_size for m in control} == {Decimal("0.001")}
        await eventually(md.converged, timeout=15)
        changes = [(s.state, s.reason) for s in (await md.statuses())[seen:]]
        assert (BookState.RESYNCING, "tick_size_change") in changes and changes[-1][0] is BookState.VALID
        snapshots = [m for m in await md.history() if isinstance(m, BookSnapshot)]
        assert snapshots[-1].tick_size == Decimal("0.001")
        orders_only_on_valid_books(await md.history(), tmp_path)


async def _control_ticks(bus) -> list[TickSizeChanged]:
    return [m for _, m in await bus.history(CONTROL) if isinstance(m, TickSizeChanged)]
