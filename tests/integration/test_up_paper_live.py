"""`polydesk up --paper-live` with the venue settings pointing at a second paper exchange that plays the live
venue (its default scenario's flow): the pipeline trades on the mirrored books, and the venue never sees
an order of ours."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from eth_account import Account

from paperexchange.server import PaperExchangeProcess
from shared.logging import read_events
from shared.redis_conn import free_port

pytestmark = [pytest.mark.integration, pytest.mark.processes]


def test_up_paper_live_trades_on_the_mirrored_books_and_never_on_the_venue(tmp_path):
    with PaperExchangeProcess("--admin", "--scenario", "default", "--speed", "8", "--settlement-delay-secs", "0.5") as live:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
        env.update(
            POLYDESK_CLOB_URL=live.url,
            POLYDESK_GAMMA_URL=live.url + "/gamma",
            POLYDESK_MARKET_WS_URL=live.ws_url + "/ws/market",
            POLYDESK_REDIS_EMBEDDED="true",
            POLYDESK_EMBEDDED_REDIS_PORT=str(free_port()),
            POLYDESK_PAPER_PORT="0",
            POLYDESK_PAPER_SETTLEMENT_DELAY_SECS="0.5",
        )
        process = subprocess.run(
            [sys.executable, "-m", "polydesk", "up", "--paper-live", "--duration", "18"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert process.returncode == 0, process.stderr[-3000:]
        assert "PAPER mode on live books" in process.stdout and live.ws_url in process.stdout
        events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
        started = next(e for e in events if e["type"] == "up_started")
        assert started["mode"] == "paper-live"
        stopped = next(e for e in events if e["type"] == "up_stopped")
        assert stopped["orders_accepted"] > 0 and stopped["trades_confirmed"] > 0
        assert stopped["open_orders_left"] == 0
        fills = [e for e in events if e["type"] == "fill"]
        assert fills
        # Our wallet's orders and trades stayed on the shadow: the venue has none of them.
        wallet = Account.from_key((tmp_path / "state" / "paper" / "executor.key").read_text().strip()).address
        venue_orders = httpx.get(live.url + "/_paper/orders").json()
        assert venue_orders and wallet.lower() not in {str(o.get("maker_address")).lower() for o in venue_orders}
