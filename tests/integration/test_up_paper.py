"""`polydesk up --duration 60` on a bare machine: its own Redis, the paper exchange, four services trading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from shared.logging import read_events
from shared.redis_conn import free_port
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SERVICES = ("ingest", "strategy", "risk", "executor")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _metrics(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()


@pytest.mark.serial
def test_up_for_60_seconds_trades_on_paper_and_leaves_nothing_behind(tmp_path):
    metrics_base = free_port()
    while any(_port_taken(metrics_base + i) for i in range(4)):
        metrics_base = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_EMBEDDED="true", POLYDESK_EMBEDDED_REDIS_PORT=str(free_port()),
               POLYDESK_PAPER_PORT="0", POLYDESK_PAPER_SPEED="2", POLYDESK_UP_METRICS_PORT_BASE=str(metrics_base),
               # The fast settlement setting: live-like timings confirm a trade after ~80 s, past this 60 s run.
               POLYDESK_PAPER_SETTLEMENT_DELAY_SECS="2")
    process = subprocess.Popen([sys.executable, "-m", "polydesk", "up", "--duration", "60"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answered: dict[str, bool] = {}
    exported: dict[str, str] = {}

    def scrape() -> None:  # while it runs: every service answers on /metrics
        deadline = time.monotonic() + 55
        while time.monotonic() < deadline and len(answered) < 4:
            for index, service in enumerate(SERVICES):
                try:
                    text = _metrics(metrics_base + index)
                    if f'polydesk_service_up{{service="{service}"}} 1.0' in text:
                        answered[service] = True
                        exported[service] = text
                except OSError:
                    pass
            time.sleep(0.5)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    out, err = process.communicate(timeout=180)
    scraper.join()
    assert process.returncode == 0, err[-3000:]
    assert "PAPER mode" in out
    assert answered == dict.fromkeys(SERVICES, True)
    # One registry per service: only risk exports the kill switch (a 0 from ingest would read as "off").
    assert [s for s in SERVICES if "polydesk_kill_switch_active" in exported[s]] == ["risk"]
    assert "polydesk_executor_venue_production 0.0" in exported["executor"]

    logs = sorted((tmp_path / "logs").glob("events-*.jsonl"))
    assert logs and logs[-1].name == time.strftime("events-%Y-%m-%d.jsonl", time.gmtime())
    events = read_events(logs)
    kinds = {e["type"] for e in events}
    assert {"order_submitted", "fill", "risk_approve", "shutdown_clean"} <= kinds
    stopped = next(e for e in events if e["type"] == "up_stopped")
    assert stopped["orders_accepted"] > 0 and stopped["trades_confirmed"] > 0
    assert stopped["open_orders_left"] == 0
    assert stopped["exit_codes"] == dict.fromkeys((*SERVICES, "api"), 0)  # the control API runs beside them
    # Baskets are counted as baskets (one intent, one approval for all legs): every basket the executor
    # posted was approved by risk in this run.
    posted_baskets = {e["basket_id"] for e in events if e["type"] == "basket_posted"}
    assert stopped["basket_intents"] >= stopped["approved_baskets"] >= len(posted_baskets)
    assert {e["service"] for e in events if e["type"] == "shutdown_clean"} >= set(SERVICES)
    # The run ends with the ledger reconciled against the paper venue, also written as JSON.
    summary = json.loads(Path(stopped["run_summary"]).read_text())
    assert summary["positions_checked"] > 0 and summary["venue_errors"] == []
    assert summary["position_differences"] == [] and summary["cash_difference"] is None
    assert summary["cash_ledger"] == summary["cash_venue"] and summary["realized_pnl"] is not None

    started = next(e for e in events if e["type"] == "up_started")
    pids = [e["pid"] for e in events if e["type"] == "service_spawned"]
    pids += [started["paper_exchange_pid"], started["embedded_redis_pid"]]
    assert None not in pids
    eventually(lambda: not any(_alive(pid) for pid in pids), timeout=10)


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
