"""The dashboard at the size of the terminal: what an 80x24 screen keeps and collapses, what 120x40 adds; unknown
shown as unknown; positions and cash from risk's real ledger file; fills and rejections by market name."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from rich.console import Console

from polydesk.dashboard import render
from polydesk.dashboard_data import Activity, DashboardState, LedgerReader, OpenOrder, recent_activity
from services.risk.state import RiskState
from shared.messages import (
    Envelope,
    Fill,
    OrderEventKind,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskDecision,
    Side,
    TradeStatus,
    replace,
)
from tests.risk.helpers import CID, NO, YES, Clock, fill, market_info

NOW = 1_780_000_000.0
QUESTION = "Will the example question resolve Yes by the end of the year?"


def screen(state: DashboardState, width: int, height: int) -> list[str]:
    console = Console(record=True, width=width, height=height, color_system=None)
    console.print(render(state))
    return console.export_text().splitlines()


def full_state(positions: int = 3) -> DashboardState:
    state = DashboardState(taken_at=NOW, health={
        "risk": [{"service": "risk", "instance": "a", "ts": NOW, "dry_run": False,
                  "kill_switch": {"active": False, "reason": ""}, "pnl_realized_usd": "12.5",
                  "pnl_unrealized_usd": "-1", "exposure_usd": "300"}],
        "executor": [{"service": "executor", "instance": "a", "ts": NOW, "venue": "paper 127.0.0.1:8900",
                      "production": False,
                      "tick_to_order_ms": {"n": 40, "last_ms": 12.0, "p50_ms": 10.5, "p90_ms": 30.1, "max_ms": 55.0},
                      "venue_errors": [{"ts": NOW - 5, "type": "order_rejected",
                                        "error": "INVALID_ORDER_MIN_SIZE: size 1 below 5"}]}],
        "ingest": [{"service": "ingest", "instance": "a", "ts": NOW}],
        "strategy": [{"service": "strategy", "instance": "a", "ts": NOW}]})
    state.ledger, state.ledger_error = _ledger(positions), None
    state.activity = [Activity(NOW - 1, "fill", "0xm0", "BUY 10 @ 0.41 MATCHED (copy)"),
                      Activity(NOW - 2, "rejected", "0xm1", "risk DEDUP_WINDOW: seen 3s ago (copy)")]
    state.open_orders = [OpenOrder("0xo1", "0xm0", "BUY", D("0.4"), D("10"), D("0"), "LIVE", "copy")]
    return state


def _ledger(n: int):
    from polydesk.dashboard_data import LedgerSnapshot

    tokens = [{"question": f"{QUESTION} #{i}", "market": f"0xm{i}", "outcome": "Yes", "settled": "10",
               "provisional": "5", "avg_price": "0.41", "mark": "0.45", "unrealized_usd": "0.6"} for i in range(n)]
    return LedgerSnapshot(tokens=tokens, cash_usd="9950.12", cash_pending_usd="-2", unrealized_usd="1.8",
                          realized_usd="1.2", questions={f"0xm{i}": f"{QUESTION} #{i}" for i in range(n)})


def test_80x24_keeps_the_important_panels_and_names_what_collapsed():
    lines = screen(full_state(), 80, 24)
    text = "\n".join(lines)
    assert len(lines) == 24 and max(len(line) for line in lines) <= 80
    assert " PAPER " in lines[0] and "venue paper 127.0.0.1:8900" in lines[0] and "kill switch off" in lines[0]
    assert "executor ok" in lines[1]
    assert "cash +9,950.12 (pending -2.00)" in text and "unrealized +1.80" in text
    assert "tick-to-order: p50 10.5 ms" in text
    assert "order_rejected: INVALID_ORDER_MIN_SIZE" in text
    assert "positions (3)" in text and "Will the example" in text and "10.00" in text and "5.00" in text
    assert "recent fills and rejections" in text and "BUY 10 @ 0.41 MATCHED" in text
    # Less important panels collapse, and the last line says which.
    assert "last decisions" not in text and "last signals" not in text and "streams" not in lines[1:-1]
    assert lines[-1].strip().startswith("no room for:") and "decisions" in lines[-1]


def test_80x24_with_many_positions_still_shows_money_errors_and_latency_first():
    text = "\n".join(screen(full_state(positions=30), 80, 24))
    assert "cash +9,950.12" in text and "tick-to-order" in text and "INVALID_ORDER_MIN_SIZE" in text
    assert "positions (30)" in text and "recent fills and rejections" not in text
    assert "no room for: activity" in text


def test_120x40_shows_every_panel():
    lines = screen(full_state(), 120, 40)
    text = "\n".join(lines)
    assert len(lines) == 40 and max(len(line) for line in lines) <= 120
    for title in ("account (USD)", "exchange errors", "positions (3)", "recent fills and rejections",
                  "open orders (1)", "services", "streams", "last signals (intents)", "last decisions"):
        assert title in text, title
    assert "no room for" not in text
    assert "Will the example" in text and "0xm0" not in text  # the question, not the condition id


def test_unknown_is_shown_as_unknown_never_as_safe_or_zero():
    state = DashboardState(taken_at=NOW, health={"risk": [], "executor": [], "ingest": [], "strategy": []},
                           ledger_error="no ledger at state/risk.sqlite: risk has not run with this state directory")
    text = "\n".join(screen(state, 80, 24))
    assert " UNKNOWN " in text and "kill switch: UNKNOWN" in text and "venue unknown" in text
    assert "cash, positions: unknown (ledger: no ledger at state/risk.sqlite" in text
    assert "tick-to-order: unknown (executor not reporting)" in text
    assert "today: unknown (risk not reporting)" in text
    assert "+0.00" not in text and "kill switch off" not in text and " PAPER " not in text
    assert "executor down" in text


def test_an_executor_with_no_order_yet_and_no_error_says_so():
    state = full_state()
    state.health["executor"][0].update(tick_to_order_ms=None, venue_errors=[], halted_reason="heartbeat failing")
    text = "\n".join(screen(state, 120, 40))
    assert "tick-to-order: no order posted yet" in text
    assert "halted: heartbeat failing" in text  # a halted submission heads the exchange errors


def test_dry_run_and_live_headers():
    state = full_state()
    state.health["risk"][0]["dry_run"] = True
    assert " DRY RUN " in screen(state, 80, 24)[0]
    state.health["risk"][0]["dry_run"] = False
    state.health["executor"][0].update(production=True, venue="polymarket")
    assert " LIVE " in screen(state, 80, 24)[0] and "venue polymarket" in screen(state, 80, 24)[0]


def test_positions_and_cash_come_from_risks_ledger_file(tmp_path):
    path = tmp_path / "risk.sqlite"
    state = RiskState(path, clock=Clock())
    state.upsert_market(market_info())
    state.ledger.adopt_cash(D(1000))
    state.apply_fill(fill("t1", TradeStatus.CONFIRMED, token=YES, size="20", price="0.40"))
    state.apply_fill(fill("t2", TradeStatus.MATCHED, token=NO, size="10", price="0.55", order="0xn"))
    state.set_mark(YES, D("0.45"))
    state.close()
    snapshot, error = LedgerReader(path).read()
    assert error is None and snapshot is not None
    rows = {row["token_id"]: row for row in snapshot.tokens}
    assert (rows[YES]["settled"], rows[YES]["provisional"]) == ("20", "0")
    assert (rows[NO]["settled"], rows[NO]["provisional"]) == ("0", "10")
    assert snapshot.cash_usd == "986.500000" and snapshot.questions[CID] == "q?"
    dash = full_state()
    dash.ledger = snapshot
    text = "\n".join(screen(dash, 120, 40))
    assert "q?" in text and "+986.50" in text
    assert "unknown" in next(line for line in text.splitlines() if "q?" in line and " No " in line)  # no mark
    missing, why = LedgerReader(tmp_path / "nowhere.sqlite").read()
    assert missing is None and "no ledger" in why


def test_the_ledger_is_read_at_most_once_a_second(tmp_path):
    clock = [100.0]
    reader = LedgerReader(tmp_path / "risk.sqlite", clock=lambda: clock[0])
    assert reader.read()[0] is None
    RiskState(tmp_path / "risk.sqlite", clock=Clock()).close()
    assert reader.read()[0] is None  # the earlier answer, within the second
    clock[0] += 1.0
    assert reader.read()[0] is not None


def _env(at: float) -> Envelope:
    return replace(Envelope.new("test"), created_ts_ns=int(at * 1e9), source_ts_ns=int(at * 1e9))


def test_recent_activity_one_line_per_fill_at_its_latest_status_and_every_rejection():
    def part(status: TradeStatus, at: float) -> Fill:
        return Fill(envelope=_env(at), trade_id="t1", status=status, order_id="0xo", market="0xm", token_id="1",
                    side=Side.BUY, size=D("10"), price=D("0.41"), strategy="copy")

    rejected = OrderUpdate(envelope=_env(NOW + 3), order_id="0xr", kind=OrderEventKind.PLACEMENT,
                           status=OrderStatus.REJECTED, market="0xv", token_id="2", side=Side.SELL, price=D("0.6"),
                           original_size=D("5"), reason="not enough balance")
    intent = OrderIntent(envelope=_env(NOW), token_id="1", side=Side.BUY, size=D(10), price=D("0.4"), reason="r",
                         strategy="copy", signal_key="k", market="0xk")
    decisions = [
        RiskDecision(envelope=_env(NOW + 4), intent_id=intent.envelope.message_id, signal_key="k", strategy="copy",
                     approved=False, rule="DEDUP_WINDOW", detail="seen 3s ago", requested_size=D(10)),
        RiskDecision(envelope=_env(NOW + 5), intent_id="x", signal_key="k2", strategy="copy", approved=False,
                     dry_run=True, requested_size=D(10)),  # dry run: not a rejection
    ]
    rows = recent_activity([part(TradeStatus.MATCHED, NOW + 1), rejected, part(TradeStatus.MINED, NOW + 2)],
                           decisions, {intent.envelope.message_id: "0xk"})
    assert [(r.kind, r.market, r.ts) for r in rows] == [
        ("rejected", "0xk", NOW + 4), ("rejected", "0xv", NOW + 3), ("fill", "0xm", NOW + 1)]
    assert "risk DEDUP_WINDOW: seen 3s ago" in rows[0].text
    assert "venue: SELL 5 @ 0.6 not enough balance" == rows[1].text
    assert rows[2].text.startswith("BUY 10 @ 0.41 MINED")


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 30), (120, 40), (200, 60), (60, 15)])
def test_every_size_fills_the_screen_exactly(width, height):
    lines = screen(full_state(positions=8), width, height)
    assert len(lines) == height and max(len(line) for line in lines) <= width
    assert " PAPER " in lines[0]
