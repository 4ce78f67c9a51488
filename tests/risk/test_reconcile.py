"""Reconciliation against the Data API's documented position rows, through an httpx MockTransport."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest

from services.risk.reconcile import parse_position, reconcile
from services.risk.state import FillRecord, RiskState
from shared.errors import TransientVenueError
from shared.messages import Side, TradeStatus
from tests.risk.helpers import CID, NO, YES, Clock

WALLET = "0x" + "cd" * 20


def v1_row(asset, size, avg):
    # The v1 /positions row, trimmed to the fields risk reads plus a few it ignores.
    return {"proxyWallet": WALLET, "asset": asset, "conditionId": CID, "size": size, "avgPrice": avg,
            "curPrice": 0.5, "title": "q?", "outcome": "Yes", "negativeRisk": False}


@pytest.fixture
def state(tmp_path):
    s = RiskState(tmp_path / "r.sqlite", clock=Clock())
    s.apply_fill(FillRecord("t1", TradeStatus.MATCHED, CID, YES, Side.BUY, D(10), D("0.5")))
    s.apply_fill(FillRecord("t2", TradeStatus.MATCHED, CID, NO, Side.BUY, D(4), D("0.5")))
    yield s
    s.close()


async def test_differences_are_found_and_the_exchange_is_adopted(state):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=[v1_row(YES, 12.5, 0.48)])

    found = await reconcile(state, "http://paper/data-api/", WALLET, transport=httpx.MockTransport(handler))
    assert seen[0].path == "/data-api/positions" and seen[0].params["user"] == WALLET
    assert {(d.token_id, d.local_size, d.remote_size) for d in found} == {(YES, D(10), D("12.5")), (NO, D(4), D(0))}
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


async def test_a_failing_api_raises_a_transient_error(state):
    transport = httpx.MockTransport(lambda r: httpx.Response(503))
    with pytest.raises(TransientVenueError):
        await reconcile(state, "http://paper", WALLET, transport=transport)
    assert state.position(YES).size == D(10)  # nothing adopted
