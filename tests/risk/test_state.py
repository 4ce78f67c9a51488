"""Risk's SQLite state: fills through the shared ledger (once per part and status), FAILED reversal, resolution,
the migration of older databases, daily reset, persistence."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal as D

import pytest

from services.risk.state import MIGRATIONS, RiskState
from shared.messages import Side, TradeStatus
from tests.risk.helpers import CID, NO, YES, Clock, fill, market_info

S = TradeStatus


def rec(trade_id, status, side=Side.BUY, size="10", price="0.50", token=YES, fee="0", order="0xo"):
    return fill(trade_id, status, side=side, size=size, price=price, token=token, fee=fee, order=order)


def outcome(state, record) -> str:
    applied = state.apply_fill(record)
    return "reversed" if applied.moved and record.status == S.FAILED else applied.outcome


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(tmp_path, clock):
    s = RiskState(tmp_path / "risk.sqlite", clock=clock)
    s.upsert_market(market_info())
    yield s
    s.close()


def test_schema_is_migrated_once_and_wal_is_on(tmp_path, clock):
    path = tmp_path / "risk.sqlite"
    RiskState(path, clock=clock).close()
    RiskState(path, clock=clock).close()  # a second open must not re-run the migrations
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_replayed_fill_changes_nothing_twice(state):
    assert outcome(state, rec("t1", S.MATCHED)) == "applied"
    assert outcome(state, rec("t1", S.MATCHED)) == "duplicate"
    assert state.position(YES).provisional == D(10)
    assert outcome(state, rec("t1", S.MINED)) == "status"
    assert outcome(state, rec("t1", S.CONFIRMED)) == "status"
    assert outcome(state, rec("t1", S.CONFIRMED)) == "duplicate"
    position = state.position(YES)
    assert position.settled == D(10) and position.cost_usd == D(5)


def test_both_own_parts_of_a_self_trade_count(state):
    state.apply_fill(rec("t1", S.CONFIRMED, size="10", price="0.40", order="0xa"))
    state.apply_fill(rec("t2", S.MATCHED, side=Side.SELL, size="4", price="0.50", order="0xb"))
    assert outcome(state, rec("t2", S.MATCHED, side=Side.BUY, size="4", price="0.50", order="0xc")) == "applied"
    assert state.position(YES).size == D(10) and state.daily_pnl()[0] == D("0.40")


def test_a_sell_realizes_against_average_cost_and_replay_does_not_double_it(state):
    state.apply_fill(rec("b1", S.MATCHED, size="10", price="0.40"))
    state.apply_fill(rec("b2", S.MATCHED, size="10", price="0.60"))
    for _ in range(3):
        state.apply_fill(rec("s1", S.MATCHED, side=Side.SELL, size="5", price="0.30", fee="0.10"))
    realized, _ = state.daily_pnl()
    assert realized == D("-1.10")  # 5 * (0.30 - 0.50) - 0.10
    assert state.position(YES).size == D(15) and state.position(YES).avg_price == D("0.5")


def test_a_failed_trade_reverses_its_provisional_effect_exactly(state):
    state.apply_fill(rec("b1", S.MATCHED, size="10", price="0.50"))
    state.apply_fill(rec("s1", S.MATCHED, side=Side.SELL, size="4", price="0.20", fee="0.05"))
    state.apply_fill(rec("b2", S.MATCHED, size="6", price="0.70"))
    before_failure = state.daily_pnl()[0]
    assert before_failure == D("-1.25")
    assert outcome(state, rec("s1", S.FAILED, side=Side.SELL, size="4", price="0.20", fee="0.05")) == "reversed"
    assert state.daily_pnl()[0] == D(0)
    position = state.position(YES)
    assert position.size == D(16) and position.cost_usd == D("9.2")  # b1 + b2 only
    # A late replay of the trade's earlier statuses must not bring it back.
    assert outcome(state, rec("s1", S.MATCHED, side=Side.SELL, size="4", price="0.20")) == "duplicate"
    late = state.apply_fill(rec("s1", S.MINED, side=Side.SELL, size="4", price="0.20"))
    assert (late.moved, late.anomaly) == (False, "status_after_failed")
    assert outcome(state, rec("s1", S.FAILED, side=Side.SELL, size="4", price="0.20")) == "duplicate"
    assert state.position(YES).size == D(16) and state.daily_pnl()[0] == D(0)


def test_failed_first_never_applies(state):
    assert state.apply_fill(rec("t9", S.FAILED)).moved is False
    assert state.apply_fill(rec("t9", S.MATCHED)).moved is False
    assert state.position(YES).size == 0


def test_a_resolution_realizes_at_once_winner_at_1_loser_at_0(state):
    state.apply_fill(rec("b1", S.CONFIRMED, size="200", price="0.50"))
    state.set_mark(YES, D("0.50"))
    assert state.daily_pnl() == (D(0), D(0))
    assert state.resolve_market(CID, NO) == [YES]
    assert state.daily_pnl() == (D(-100), D(0))
    assert state.market(CID).closed and state.position(YES).resolved_price == 0
    assert state.resolve_market(CID, NO) == []  # once


def test_a_database_of_the_previous_schema_keeps_its_positions_and_realized_pnl(tmp_path, clock):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    db.execute("INSERT INTO positions VALUES (?, ?, '12', '6')", (YES, CID))
    db.execute("INSERT INTO realized VALUES (?, '-3')", (dt.datetime.fromtimestamp(clock.now, dt.UTC).date().isoformat(),))
    db.close()
    state = RiskState(path, clock=clock)
    assert state.position(YES).settled == D(12) and state.position(YES).cost_usd == D(6)
    assert state.daily_pnl()[0] == D(-3)
    state.apply_fill(rec("b1", S.MATCHED, size="2", price="0.50"))
    assert state.position(YES).size == D(14)
    state.close()


def test_unrealized_pnl_follows_marks(state):
    state.apply_fill(rec("b1", S.MATCHED, size="10", price="0.50"))
    assert state.daily_pnl() == (D(0), D(0))  # the day's baseline is taken at the first look
    assert state.set_mark(YES, D("0.30")) is True
    assert state.daily_pnl()[1] == D("-2.00")
    assert state.set_mark(NO, D("0.70")) is False  # not held: PnL does not move


def test_daily_reset_happens_at_the_configured_utc_time(tmp_path):
    start = dt.datetime(2026, 1, 5, 13, 0, tzinfo=dt.UTC).timestamp()
    clock = Clock(start)
    state = RiskState(tmp_path / "r.sqlite", reset_minute_of_day=13 * 60 + 30, clock=clock)
    state.upsert_market(market_info())
    state.apply_fill(rec("b1", S.MATCHED, size="10", price="0.50"))
    state.set_mark(YES, D("0.50"))
    state.apply_fill(rec("s1", S.MATCHED, side=Side.SELL, size="5", price="0.30"))
    state.set_mark(YES, D("0.40"))
    assert state.daily_pnl() == (D("-1.00"), D("-0.50"))
    clock.now = start + 29 * 60 + 59  # 13:29:59: still the same trading day
    assert state.daily_pnl() == (D("-1.00"), D("-0.50"))
    clock.now = start + 30 * 60  # 13:30:00: a new day, PnL starts from zero
    assert state.daily_pnl() == (D(0), D(0))
    state.set_mark(YES, D("0.30"))
    assert state.daily_pnl() == (D(0), D("-0.50"))  # only today's move of the mark
    state.close()


def test_kill_switch_and_signal_keys_survive_reopening(tmp_path, clock):
    path = tmp_path / "r.sqlite"
    state = RiskState(path, clock=clock)
    assert state.set_kill_switch(True, "test", "cli") is True
    assert state.set_kill_switch(True, "again", "cli") is False
    state.approve_signal("copy:1")
    state.apply_fill(rec("b1", S.MATCHED))
    state.set_mark(YES, D("0.45"))
    state.close()
    again = RiskState(path, clock=clock)
    assert again.kill_switch().active and again.kill_switch().reason == "test"
    assert again.signal_approved_ts("copy:1") == clock.now
    assert again.position(YES).size == D(10) and again.marks[YES] == D("0.45")
    again.close()


def test_open_orders_count_toward_market_notional(state):
    state.upsert_open_order("c1", CID, YES, Side.BUY, D("0.5"), D(10))
    state.upsert_open_order("c2", CID, YES, Side.SELL, D("0.6"), D(10))
    state.apply_fill(rec("b1", S.MATCHED, size="4", price="0.25"))
    assert state.market_notional(CID) == D(6)  # 5 open BUY + 1 held; SELLs add no exposure
    state.upsert_open_order("c1", CID, YES, Side.BUY, D("0.5"), D(0))
    assert state.market_notional(CID) == D(1)


def test_a_failed_transaction_leaves_nothing_behind(state):
    with pytest.raises(RuntimeError), state.transaction():
        state.approve_signal("k")
        raise RuntimeError("boom")
    assert state.signal_approved_ts("k") is None


def test_the_kill_switch_read_is_the_databases_after_a_change_and_after_a_rollback(state):
    first = state.kill_switch()
    assert not first.active
    with pytest.raises(RuntimeError), state.transaction():
        assert state.set_kill_switch(True, "loss", "risk:auto", auto=True)
        assert state.kill_switch().active  # the transaction sees its own change
        raise RuntimeError("the handler failed: nothing it did is kept")
    assert state.kill_switch() == first
    assert state.set_kill_switch(True, "by hand", "cli")
    on = state.kill_switch()
    assert on.active and on.reason == "by hand"
    row = state.db.execute("SELECT active, reason, actor, changed_ts FROM kill_switch").fetchone()
    assert (on.active, on.reason, on.actor, on.changed_ts) == (bool(row[0]), row[1], row[2], row[3])
