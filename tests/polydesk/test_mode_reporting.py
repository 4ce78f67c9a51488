"""What the screen says comes from what the services report: the mode (PAPER / LIVE / DRY RUN) from risk's
dry run flag and the executor's venue, UNKNOWN when either is silent; the kill switch UNKNOWN without risk;
each service exports only its own metrics; the banner reads the settings the services will read (.env too)."""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client import generate_latest
from rich.console import Console

from polydesk.dashboard import DashboardState, render
from shared import metrics
from shared.messages import Envelope, KillSwitchChanged, replace
from shared.mode import DRY_RUN, LIVE, PAPER, UNKNOWN, trading_mode


def screen(state: DashboardState) -> str:
    console = Console(record=True, width=200, height=40, color_system=None)
    console.print(render(state))
    return console.export_text()


@pytest.mark.parametrize(("dry_run", "production", "mode"), [
    (True, True, DRY_RUN), (True, False, DRY_RUN), (True, None, DRY_RUN),
    (False, True, LIVE), (False, False, PAPER), (False, None, UNKNOWN), (None, True, UNKNOWN), (None, None, UNKNOWN),
])
def test_the_mode_combines_risk_and_executor_and_is_unknown_when_one_is_silent(dry_run, production, mode):
    assert trading_mode(dry_run, production) == mode


def _state(risk: dict | None, executor: dict | None, switch: KillSwitchChanged | None = None) -> DashboardState:
    now = time.time()
    health = {"risk": [{"service": "risk", "instance": "a", "ts": now, **risk}] if risk is not None else [],
              "executor": [{"service": "executor", "instance": "a", "ts": now, **executor}]
              if executor is not None else []}
    return DashboardState(taken_at=now, health=health, kill_switch=switch)


def test_the_header_shows_the_mode_and_venue_the_services_report():
    state = _state({"dry_run": False, "kill_switch": {"active": False, "reason": ""}},
                   {"production": True, "venue": "polymarket"})
    text = screen(state)
    assert " LIVE " in text and "venue polymarket" in text and "kill switch off" in text
    text = screen(_state({"dry_run": False}, {"production": False, "venue": "paper 127.0.0.1:8900"}))
    assert " PAPER " in text and "venue paper 127.0.0.1:8900" in text
    assert " DRY RUN " in screen(_state({"dry_run": True}, None))


def test_without_risk_the_mode_and_the_kill_switch_are_unknown_even_after_an_announced_off():
    off = KillSwitchChanged(envelope=Envelope.new("risk"), active=False, reason="released", actor="cli")
    state = _state(None, {"production": True, "venue": "polymarket"}, switch=off)
    assert state.kill_switch_active is None and state.mode == UNKNOWN
    text = screen(state)
    assert "kill switch: UNKNOWN" in text and " UNKNOWN " in text and "kill switch off" not in text
    on = replace(off, active=True, reason="loss")
    assert _state(None, None, switch=on).kill_switch_active is True  # an announced ON is never hidden


def test_each_service_exports_only_its_own_gauges():
    metrics.KILL_SWITCH_ACTIVE.set(1)
    metrics.EXECUTOR_VENUE_PRODUCTION.set(0)
    exported = {s: generate_latest(metrics.service_registry(s)).decode() for s in ("ingest", "risk", "executor")}
    assert "polydesk_kill_switch_active 1.0" in exported["risk"]
    assert "polydesk_kill_switch_active" not in exported["ingest"] + exported["executor"]
    assert "polydesk_executor_venue_production 0.0" in exported["executor"]
    assert "polydesk_executor_venue_production" not in exported["risk"] + exported["ingest"]
    assert "polydesk_exposure_usd" not in exported["ingest"]
    assert "process_cpu_seconds_total" in exported["ingest"] or os.name != "posix"


def test_every_unlabeled_metric_has_an_owning_service():
    """An unlabeled metric exports a sample from the start: without an owner every service would export it."""
    from prometheus_client import REGISTRY

    for collector in list(REGISTRY._collector_to_names):
        for metric in getattr(collector, "describe", list)():
            if metric.name.startswith("polydesk_") and not getattr(collector, "_labelnames", ("x",)):
                assert metrics.owners_of(metric.name), f"{metric.name}: add it to shared.metrics.OWNERS"


def test_the_banner_reads_dotenv_like_the_services(tmp_path, monkeypatch):
    from polydesk.settings import UpSettings
    from polydesk.up import announce_mode, preflight
    from shared.config import load_settings

    for key in [k for k in os.environ if k.startswith("POLYDESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "key").write_text("0x" + "11" * 32)
    (tmp_path / ".env").write_text("POLYDESK_DRY_RUN=false\n")
    monkeypatch.setenv("POLYDESK_CLOB_URL", "https://clob.polymarket.com")
    monkeypatch.setenv("POLYDESK_PRIVATE_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("POLYDESK_METRICS_PORT", "0")
    monkeypatch.setenv("POLYDESK_UP_METRICS_PORT_BASE", "1")  # ports are checked, not bound: 1..4 are free
    layers, paper_key = preflight(load_settings(UpSettings))
    assert paper_key is None  # a venue is configured: no paper exchange
    banner = announce_mode(None, layers)
    assert "LIVE TRADING" in banner and "DRY RUN" not in banner
    (tmp_path / ".env").write_text("POLYDESK_DRY_RUN=true\n")
    layers, _ = preflight(load_settings(UpSettings))
    assert announce_mode(None, layers).startswith("DRY RUN on polymarket")
