"""Each service process: starts against a real Redis, reports healthy, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from shared.logging import read_events
from tests.helpers import eventually

pytestmark = pytest.mark.integration


def service_env(redis_url: str, prefix: str, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=redis_url, POLYDESK_STREAM_PREFIX=prefix, POLYDESK_LOG_DIR=str(tmp_path / "logs"),
               POLYDESK_STATE_DIR=str(tmp_path / "state"), POLYDESK_METRICS_PORT="0", POLYDESK_INSTANCE="t1",
               POLYDESK_HEALTH_TTL_SECS="2", POLYDESK_API_PORT="0")
    env.update(extra)
    return env


def paper_env(http_url: str, ws_url: str, private_key: str | None = None) -> dict[str, str]:
    """Settings that point every layer at a paper exchange (and give the executor a key to sign with)."""
    from eth_account import Account

    return {
        "POLYDESK_CLOB_URL": http_url, "POLYDESK_MARKET_WS_URL": f"{ws_url}/ws/market",
        "POLYDESK_USER_WS_URL": ws_url, "POLYDESK_GAMMA_URL": f"{http_url}/gamma",
        "POLYDESK_DATA_API_URL": f"{http_url}/data-api", "POLYDESK_RPC_URL": f"{http_url}/rpc",
        "POLYDESK_PRIVATE_KEY": private_key or Account.create().key.hex(),
    }


def health(service: str, env: dict[str, str], cwd) -> int:
    return subprocess.run([sys.executable, "-m", "polydesk", "health", service], env=env, cwd=cwd,
                          capture_output=True, timeout=30).returncode


@pytest.mark.parametrize("service", ["ingest", "strategy", "risk", "executor"])
def test_service_reports_healthy_and_stops_cleanly(service, redis_url, prefix, tmp_path, quiet_exchange):
    env = service_env(redis_url, prefix, tmp_path, **paper_env(quiet_exchange.url, quiet_exchange.ws_url))
    cwd = os.getcwd()
    assert health(service, env, cwd) == 1
    process = subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=env, cwd=cwd,
                               stderr=subprocess.PIPE)
    try:
        eventually(lambda: health(service, env, cwd) == 0, timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, process.stderr.read().decode() if process.stderr else ""
    assert health(service, env, cwd) == 1  # the health key went with it
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    assert (events[0]["type"], events[-1]["type"]) == ("service_started", "shutdown_clean")
    assert all(e["service"] == service for e in events)


def test_executor_without_a_key_fails_at_start_naming_the_setting(redis_url, prefix, tmp_path):
    env = service_env(redis_url, prefix, tmp_path)
    result = subprocess.run([sys.executable, "-m", "services.executor"], env=env, cwd=os.getcwd(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "POLYDESK_PRIVATE_KEY" in result.stdout + result.stderr
