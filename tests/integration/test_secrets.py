"""A service run with a Redis password never shows it: not in logs, console, metrics or its health key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
import redis

from shared.redis_conn import free_port, start_embedded
from tests.helpers import eventually
from tests.integration.test_services import service_env

pytestmark = pytest.mark.integration

PASSWORD = "pw-Kq7-secret-that-must-not-leak"


def test_redis_password_never_leaves_the_process(tmp_path, prefix):
    server = start_embedded(tmp_path / "redis", port=0, password=PASSWORD)
    port = free_port()
    env = service_env(server.url, prefix, tmp_path, POLYDESK_REDIS_PASSWORD=PASSWORD,
                      POLYDESK_METRICS_PORT=str(port), POLYDESK_LOG_LEVEL="DEBUG")
    process = subprocess.Popen([sys.executable, "-m", "services.risk"], env=env, cwd=os.getcwd(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = redis.Redis.from_url(server.url, password=PASSWORD)
        eventually(lambda: list(client.scan_iter(match=f"{prefix}health:*")), timeout=20)
        health = b"".join(client.get(k) or b"" for k in client.scan_iter(match=f"{prefix}health:*"))
        exposition = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        server.stop()
    assert process.returncode == 0, err
    assert "polydesk_service_up" in exposition
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.jsonl"))
    for text in (out, err, logs, exposition, health.decode()):
        assert PASSWORD not in text
    assert not any(PASSWORD in line for line in _ps_lines())


def _ps_lines() -> list[str]:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
