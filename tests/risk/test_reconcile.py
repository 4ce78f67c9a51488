"""Reconciliation against the Data API's documented position rows, through an httpx MockTransport."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest

from services.risk.reconcile import VenueView, adopt, compare, parse_position, read_venue
from services.risk.state import RiskState
from shared.messages import Side, TradeStatus
from tests.risk.helpers import CID, NO, YES, Clock, fill

WALLET = "0x" + "cd" * 20


def v1_row(asset, size, avg):
    # The v1 /positions row, trimmed to the fields risk reads plus a few it ignores.
    return {"proxyWallet": WALLET, "asset": asset, "conditionId": CID, "size": size, "avgPrice": avg,
            "curPrice": 0.5, "title": "q?", "outcome": "Yes", "negativeRisk": False}


@pytest.fixture
def state(tmp_path):
    s = RiskState(tmp_path / "r.sqlite", clock=Clock())
    s.apply_fill(fill("t1", TradeStatus.MINED, token=YES, size="10", price="0.5"))
    s.apply_fill(fill("t2", TradeStatus.MINED, token=NO, size="4", price="0.5"))
    yield s
    s.close()


async def reconcile(state, url, wallet, transport):
    """What risk does on start, with the Data API only."""
    venue = await read_venue(url, None, wallet, [], transport=transport)
    if venue.errors:
        return venue.errors
    with state.transaction():
        return adopt(state.ledger, venue)


async def test_differences_are_found_and_the_exchange_is_adopted(state):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=[v1_row(YES, 12.5, 0.48)])

    found = await reconcile(state, "http://paper/data-api/", WALLET, transport=httpx.MockTransport(handler))
    assert seen[0].path == "/data-api/positions" and seen[0].params["user"] == WALLET
    assert {(d.token_id, d.ledger, d.venue) for d in found} == {(YES, D(10), D("12.5")), (NO, D(4), D(0))}
    assert state.position(YES).size == D("12.5") and state.position(YES).avg_price == D("0.48")
    assert state.position(NO).size == 0


async def test_matching_positions_give_no_difference(state):
    rows = [v1_row(YES, 10, 0.5), v1_row(NO, 4, 0.5)]
    found = await reconcile(state, "http://paper/data-api", WALLET,
                            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=rows)))
    assert found == []


async def test_a_server_ignoring_paging_does_not_loop(state):
    rows = [v1_row(str(n), 1, 0.5) for n in range(500)]
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, json=rows)

    await reconcile(state, "http://paper", WALLET, transport=httpx.MockTransport(handler))
    assert len(calls) == 2


def test_v2_names_are_read_too():
    row = {"token_id": YES, "condition_id": CID, "current_size": "3", "avg_price": "0.25"}
    assert parse_position(row).size == D(3) and parse_position(row).avg_price == D("0.25")


async def test_a_failing_api_is_reported_and_nothing_is_adopted(state):
    transport = httpx.MockTransport(lambda r: httpx.Response(503))
    errors = await reconcile(state, "http://paper", WALLET, transport=transport)
    assert errors and "data_api" in errors[0]
    assert state.position(YES).size == D(10)


def test_pending_settlement_is_not_a_difference_but_anything_outside_it_is(state):
    ledger = state.ledger
    ledger.adopt_cash(D(100))
    state.apply_fill(fill("t3", TradeStatus.MATCHED, token=YES, size="5", price="0.5", order="0xp"))
    for venue_yes, different in ((D(10), False), (D(15), False), (D("15.5"), True), (D(9), True)):
        view = VenueView(chain_tokens={YES: venue_yes, NO: D(4)}, chain_cash=D(100))
        found = compare(ledger.positions(), ledger.cash_usd(), ledger.pending_cash_usd(), view)
        assert bool(found) == different, venue_yes
    # Cash: the venue may or may not have moved the pending 2.50 yet; a cent beyond is a difference.
    for venue_cash, different in ((D("97.50"), False), (D(100), False), (D("97.48"), True)):
        view = VenueView(chain_tokens={YES: D(15), NO: D(4)}, chain_cash=venue_cash)
        found = compare(ledger.positions(), ledger.cash_usd(), ledger.pending_cash_usd(), view)
        assert [d.kind for d in found] == (["cash"] if different else []), venue_cash


def test_a_provisional_sell_beside_a_provisional_buy_is_pending_not_a_difference(state):
    # 10 YES settled; then a SELL of 10 and a BUY of 15 both only MATCHED. On chain the sold shares are gone
    # at the match and the bought ones arrive when MINED: the chain may read 0 (net ledger +5 = 15, settled
    # 10). The net provisional window [10, 15] called that a difference (seen at the end of a paper run).
    ledger = state.ledger
    ledger.adopt_cash(D(100))
    state.apply_fill(fill("t4", TradeStatus.MATCHED, token=YES, side=Side.SELL, size="10", order="0xs"))
    state.apply_fill(fill("t5", TradeStatus.MATCHED, token=YES, size="15", order="0xb"))
    assert ledger.pending_shares()[YES] == (D(-10), D(15))
    for venue_yes, different in ((D(0), False), (D(25), False), (D(15), False), (D("-0.5"), True), (D(26), True)):
        view = VenueView(chain_tokens={YES: venue_yes, NO: D(4)})
        found = compare(ledger.positions(), None, ledger.pending_cash_usd(), view, ledger.pending_shares())
        assert bool(found) == different, venue_yes
