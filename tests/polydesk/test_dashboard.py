"""The terminal dashboard renders a snapshot (recorded rich console), with the kill switch on and off."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from rich.console import Console

from polydesk.dashboard import DashboardState, collect, render
from shared.messages import (
    Envelope,
    KillSwitchChanged,
    OrderEventKind,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskDecision,
    Side,
    replace,
)
from shared.streams import Output

pytestmark = pytest.mark.processes  # starts polydesk processes: not in make test-fast


def screen(state: DashboardState) -> str:
    console = Console(record=True, width=160, height=40, color_system=None)
    console.print(render(state))
    return console.export_text()


def intent(i: int) -> OrderIntent:
    return OrderIntent(envelope=Envelope.new("strategy"), token_id="1", side=Side.BUY, size=Decimal("10"),
                       price=Decimal("0.45"), reason=f"whale trade {i}", strategy="copy", signal_key=f"copy:{i}",
                       market="0xm")


def test_kill_switch_on_is_shown_with_its_reason():
    state = DashboardState(taken_at=time.time(), health={
        "risk": [{"service": "risk", "instance": "a", "ts": time.time(), "pnl_realized_usd": "-51.20",
                  "kill_switch": {"active": True, "reason": "daily loss 51.20 > 50"}}]})
    text = screen(state)
    assert "KILL SWITCH ON: daily loss 51.20 > 50" in text
    assert "-51.20" in text
    assert "ingest" not in text or "down" in text


def test_kill_switch_off_and_the_panels_show_their_data():
    now = time.time()
    state = DashboardState(taken_at=now, health={
        "risk": [{"service": "risk", "instance": "a", "ts": now, "kill_switch": {"active": False, "reason": ""},
                  "pnl_realized_usd": "12.5", "pnl_unrealized_usd": "-1", "exposure_usd": "300"}],
        "executor": []})
    state.intents = [intent(1)]
    state.decisions = [RiskDecision(envelope=Envelope.new("risk"), intent_id="i", signal_key="copy:1",
                                    strategy="copy", approved=False, rule="DEDUP_WINDOW", detail="seen 3s ago",
                                    requested_size=Decimal("10"))]
    text = screen(state)
    assert "kill switch off" in text and "KILL SWITCH ON" not in text
    assert "+12.50" in text and "+300.00" in text
    assert "whale trade 1" in text
    assert "DEDUP_WINDOW" in text and "rejected" in text
    assert "down" in text  # the executor has no live instance


async def test_collect_reads_the_pipeline_from_redis(bus):
    await bus.redis.set(f"{bus.prefix}health:risk:a", '{"service": "risk", "instance": "a", "ts": 1}')
    await bus.ensure_group("intents", "risk")
    await bus.publish_many([Output("intents", intent(i)) for i in range(12)])
    live = OrderUpdate(envelope=Envelope.new("executor"), client_order_id="c1", order_id="0xo1",
                       kind=OrderEventKind.PLACEMENT, status=OrderStatus.LIVE, market="0xm", token_id="1",
                       side=Side.BUY, price=Decimal("0.4"), original_size=Decimal("5"))
    gone = replace(live, order_id="0xo2")
    await bus.publish_many([Output("fills", live), Output("fills", gone), Output("fills", replace(
        gone, kind=OrderEventKind.CANCELLATION, status=OrderStatus.CANCELED))])
    await bus.publish("control", KillSwitchChanged(envelope=Envelope.new("cli"), active=True, reason="manual",
                                                   actor="cli"))
    state = await collect(bus)
    assert [i.reason for i in state.intents][:2] == ["whale trade 11", "whale trade 10"]
    assert len(state.intents) == 10
    assert [o.order_id for o in state.open_orders] == ["0xo1"]
    assert state.kill_switch_active is True and state.kill_switch_reason == "manual"
    assert [i["instance"] for i in state.health["risk"]] == ["a"]
    assert any(g.stream == "intents" and g.group == "risk" and g.lag == 12 for g in state.groups)


async def test_collect_gathers_fills_rejections_and_the_ledger(bus, tmp_path):
    from polydesk.dashboard_data import LedgerReader
    from services.risk.state import RiskState
    from shared.messages import Fill, TradeStatus
    from tests.risk.helpers import CID, YES, Clock, fill, market_info

    risk = RiskState(tmp_path / "risk.sqlite", clock=Clock())
    risk.upsert_market(market_info())
    risk.apply_fill(fill("t1", TradeStatus.MATCHED, token=YES, size="20", price="0.40"))
    risk.close()
    asked = replace(intent(7), market=CID)
    await bus.publish("intents", asked)
    await bus.publish("decisions", RiskDecision(
        envelope=Envelope.new("risk"), intent_id=asked.envelope.message_id, signal_key="copy:7", strategy="copy",
        approved=False, rule="MAX_PER_MARKET_NOTIONAL", detail="over 200", requested_size=Decimal("10")))
    await bus.publish("fills", Fill(envelope=Envelope.new("executor"), trade_id="t1", status=TradeStatus.MATCHED,
                                    order_id="0xo", market=CID, token_id=YES, side=Side.BUY, size=Decimal("20"),
                                    price=Decimal("0.4"), strategy="copy"))
    state = await collect(bus, ledger=LedgerReader(tmp_path / "risk.sqlite"))
    assert [(a.kind, state.market_name(a.market)) for a in state.activity] == [("fill", "q?"), ("rejected", "q?")]  # newest first
    assert state.ledger is not None and state.ledger.tokens[0]["provisional"] == "20"


@pytest.mark.parametrize("active", [True, False])
def test_dash_once_prints_a_snapshot(active, redis_url, prefix, tmp_path):
    import os
    import subprocess
    import sys

    import redis

    client = redis.Redis.from_url(redis_url)
    client.set(f"{prefix}health:risk:x", '{"service": "risk", "instance": "x", "ts": %f, "kill_switch": '
               '{"active": %s, "reason": "test"}}' % (time.time(), "true" if active else "false"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=redis_url, POLYDESK_STREAM_PREFIX=prefix, COLUMNS="160", LINES="40")
    command = "dashboard" if active else "dash"  # dash: the old name, kept
    result = subprocess.run([sys.executable, "-m", "polydesk", command, "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert ("KILL SWITCH ON: test" in result.stdout) is active
    assert ("kill switch off" in result.stdout) is not active


def test_every_service_is_listed_with_a_one_line_status():
    now = time.time()
    long_status = {"detail_" + str(i): "x" * 30 for i in range(5)}
    state = DashboardState(taken_at=now, health={
        name: [{"service": name, "instance": "a", "ts": now, **long_status}]
        for name in ("executor", "ingest", "risk", "strategy")})
    text = screen(state)
    for name in ("executor", "ingest", "risk", "strategy"):
        assert f" {name} " in text
