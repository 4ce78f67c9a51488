"""Each service process: starts against a real Redis, reports healthy, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from shared.logging import read_events
from tests.helpers import wait_until

pytestmark = pytest.mark.integration


def service_env(redis_url: str, prefix: str, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=redis_url, POLYDESK_STREAM_PREFIX=prefix, POLYDESK_LOG_DIR=str(tmp_path / "logs"),
               POLYDESK_STATE_DIR=str(tmp_path / "state"), POLYDESK_METRICS_PORT="0", POLYDESK_INSTANCE="t1",
               POLYDESK_HEALTH_TTL_SECS="2")
    env.update(extra)
    return env


def health(service: str, env: dict[str, str], cwd) -> int:
    return subprocess.run([sys.executable, "-m", "polydesk", "health", service], env=env, cwd=cwd,
                          capture_output=True, timeout=30).returncode


@pytest.mark.parametrize("service", ["ingest", "strategy", "risk", "executor"])
def test_service_reports_healthy_and_stops_cleanly(service, redis_url, prefix, tmp_path):
    env = service_env(redis_url, prefix, tmp_path)
    cwd = os.getcwd()
    assert health(service, env, cwd) == 1
    process = subprocess.Popen([sys.executable, "-m", f"services.{service}"], env=env, cwd=cwd,
                               stderr=subprocess.PIPE)
    try:
        wait_until(lambda: health(service, env, cwd) == 0, timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, process.stderr.read().decode() if process.stderr else ""
    assert health(service, env, cwd) == 1  # the health key went with it
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    assert [e["type"] for e in events] == ["service_started", "shutdown_clean"]
    assert all(e["service"] == service for e in events)
