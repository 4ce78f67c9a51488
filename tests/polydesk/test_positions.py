"""`polydesk positions` and the `up` run summary: risk's ledger read beside a venue view, every difference listed."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from polydesk import run_summary
from polydesk.positions import read_ledger, report
from services.risk.reconcile import VenueView
from services.risk.state import RiskState
from shared.messages import TradeStatus
from shared.polymarket.positions import RemotePosition
from tests.risk.helpers import CID, NO, YES, Clock, fill, market_info


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "state" / "risk.sqlite"
    state = RiskState(path, clock=Clock())
    state.upsert_market(market_info())
    state.ledger.adopt_cash(D(1000))
    state.apply_fill(fill("t1", TradeStatus.CONFIRMED, token=YES, size="20", price="0.40"))
    state.apply_fill(fill("t2", TradeStatus.MATCHED, token=NO, size="10", price="0.55", order="0xn"))
    state.set_mark(YES, D("0.45"))
    state.close()
    return path


def venue(yes="20", no="10", cash="986.5") -> VenueView:
    rows = {YES: RemotePosition(YES, CID, D(yes), D("0.4")), NO: RemotePosition(NO, CID, D(no), D("0.55"))}
    return VenueView(data_api=rows, chain_tokens={YES: D(yes), NO: D(no)}, chain_cash=D(cash))


def test_an_agreeing_venue_shows_every_token_and_no_difference(db_path):
    result = report(read_ledger(db_path), venue())
    rows = {row["token_id"]: row for row in result["tokens"]}
    assert rows[YES]["settled"] == "20" and rows[NO]["provisional"] == "10"
    assert rows[YES]["question"] == "q?" and rows[YES]["outcome"] == "Yes"
    assert rows[YES]["unrealized_usd"] == "1.000000" and rows[NO]["mark"] is None  # no mark: unknown
    assert result["cash_ledger"] == "986.500000" and result["cash_pending"] == "-5.500000"
    assert result["positions_checked"] == 2 and result["position_differences"] == []
    assert result["cash_difference"] is None and result["venue_errors"] == []


def test_a_venue_that_differs_is_listed_per_source(db_path):
    result = report(read_ledger(db_path), venue(yes="19", cash="992.01"))  # settled cash is 992
    assert {(d["token_id"], d["source"]) for d in result["position_differences"]} == {(YES, "chain"),
                                                                                       (YES, "data_api")}
    assert result["cash_difference"]["venue"] == "992.01"


def test_an_unknown_venue_is_never_shown_as_agreement(db_path):
    result = report(read_ledger(db_path), None)
    assert result["positions_checked"] == 0 and result["venue_errors"] == ["venue not configured"]
    assert all(row["venue_chain"] is None for row in result["tokens"])


async def test_the_run_summary_is_written_as_json(tmp_path, db_path, monkeypatch):
    monkeypatch.setenv("POLYDESK_STATE_DIR", str(db_path.parent))
    monkeypatch.setenv("POLYDESK_ENV_FILE", str(tmp_path / "none.env"))
    for name in ("POLYDESK_DATA_API_URL", "POLYDESK_RPC_URL", "POLYDESK_RISK_DB_PATH"):
        monkeypatch.delenv(name, raising=False)
    reconciliation = await run_summary.reconcile_run({}, None)
    assert reconciliation["cash_ledger"] == "986.500000" and reconciliation["positions_checked"] == 0
    path = run_summary.write(tmp_path / "logs", {"elapsed_secs": 1.0}, reconciliation)
    written = json.loads(path.read_text())
    assert path.name.startswith("run-summary-") and written["elapsed_secs"] == 1.0
    for name in ("positions_checked", "position_differences", "cash_ledger", "cash_venue", "realized_pnl", "fees"):
        assert name in written


def test_a_missing_ledger_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="risk has not run"):
        read_ledger(tmp_path / "nothing.sqlite")


async def test_a_difference_must_still_be_there_a_moment_later(db_path, monkeypatch):
    from polydesk import positions

    ledger = read_ledger(db_path)
    reads = iter([report(ledger, venue(yes="25", no="11")), report(ledger, venue(yes="20", no="11"))])

    async def once(*args):
        return next(reads)

    monkeypatch.setattr(positions, "_once", once)
    result = await positions.gather(db_path, "http://d", "http://r", "0xw", confirm_after_secs=0.01)
    assert [(d["token_id"], d["source"]) for d in result["position_differences"]] == [(NO, "chain"), (NO, "data_api")]
    assert {(d["token_id"], d["source"]) for d in result["in_flight"]} == {(YES, "chain"), (YES, "data_api")}


def test_after_a_paper_run_the_newest_run_folder_holds_the_ledger_and_the_venue_is_unknown(tmp_path, monkeypatch):
    from polydesk.positions import locate
    from services.risk.config import RiskSettings

    for run in ("20261201T100000Z-1", "20261201T110000Z-2"):
        RiskState(tmp_path / "runs" / run / "risk.sqlite", clock=Clock()).close()
    for name in ("POLYDESK_DATA_API_URL", "POLYDESK_RPC_URL", "POLYDESK_RISK_DB_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = RiskSettings(_env_file=None, state_dir=tmp_path)
    assert locate(settings) == (tmp_path.resolve() / "runs" / "20261201T110000Z-2" / "risk.sqlite", None, None, None)
