"""`polydesk up` and its supervisor: everything starts, a killed service comes back, Ctrl-C stops all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from polydesk.supervisor import Supervisor
from shared.logging import EventLog, read_events
from tests.helpers import eventually
from tests.integration.test_services import health, paper_env, service_env

pytestmark = pytest.mark.integration


def test_up_runs_the_four_services_and_stops_them_on_sigint(redis_url, prefix, tmp_path, quiet_exchange):
    """Also the control API and, with a webhook set, the notifier: a kill switch tripped through the API
    reaches risk, and its change reaches the webhook."""
    import httpx

    from tests.notifier.fake_bot_api import FakeBotApi

    hook = FakeBotApi("unused").__enter__()
    env = service_env(redis_url, prefix, tmp_path, POLYDESK_SHUTDOWN_GRACE_SECS="5",
                      POLYDESK_WEBHOOK_URL=f"{hook.url}/hook", POLYDESK_NOTIFY_BATCH_SECS="0.5",
                      **paper_env(quiet_exchange.url, quiet_exchange.ws_url))
    env.pop("POLYDESK_METRICS_PORT")
    env.pop("POLYDESK_INSTANCE")
    process = subprocess.Popen([sys.executable, "-m", "polydesk", "up"], env=env, cwd=os.getcwd(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for service in ("ingest", "strategy", "risk", "executor"):
            eventually(lambda s=service: health(s, env, os.getcwd()) == 0, timeout=30, interval=0.2)
        first = []
        for line in process.stdout:
            first.append(line)
            if "control API at" in line:
                break
        url = first[-1].split("control API at ")[1].split()[0]
        token = (tmp_path / "state" / "api-token")
        status = eventually(lambda: _api_status(url, token), timeout=30, interval=0.2)
        assert status["mode"] == "DRY RUN" and status["kill_switch"]["state"] == "off"
        assert status["verdict_approval"] == "auto"
        eventually(lambda: health("notifier", env, os.getcwd()) == 0, timeout=30, interval=0.2)
        tripped = httpx.post(f"{url}/kill-switch", json={"active": True, "reason": "from the phone"},
                             headers={"Authorization": f"Bearer {token.read_text()}"}, timeout=30)
        assert tripped.status_code == 200 and tripped.json()["state"] == "on"
        told = eventually(lambda: [b for _, b in hook.webhooks if b"kill switch TRIPPED: from the phone" in b],
                          timeout=30, interval=0.2)
        assert b"api:token-" in told[0]  # the actor who asked
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        hook.__exit__()
    assert process.returncode == 0, err
    assert "running ingest, strategy, risk, executor" in "".join(first)
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    clean = {e["service"] for e in events if e["type"] == "shutdown_clean"}
    assert clean == {"ingest", "strategy", "risk", "executor", "notifier"}


def _api_status(url, token_file):
    import httpx

    try:
        answer = httpx.get(f"{url}/status", headers={"Authorization": f"Bearer {token_file.read_text()}"})
    except (httpx.HTTPError, OSError):
        return None
    return answer.json() if answer.status_code == 200 else None


async def test_a_killed_service_is_restarted_and_logged(redis_url, prefix, tmp_path, quiet_exchange, bus):
    env = service_env(redis_url, prefix, tmp_path, **paper_env(quiet_exchange.url, quiet_exchange.ws_url))
    log = EventLog(tmp_path / "logs", "up")
    supervisor = Supervisor(log, backoff_base_secs=0.1, backoff_max_secs=0.5)
    supervisor.add_service("risk", env)
    await supervisor.start()
    try:
        await eventually(lambda: asyncio.to_thread(lambda: health("risk", env, os.getcwd()) == 0), timeout=20)
        first_pid = supervisor.children["risk"].process.pid
        supervisor.kill("risk")

        async def restarted() -> bool:
            child = supervisor.children["risk"]
            return child.restarts == 1 and child.process.pid != first_pid and child.process.returncode is None

        await eventually(restarted, timeout=10)

        async def new_instance_healthy() -> bool:  # the killed one's key lingers until its TTL ends
            raw = await bus.redis.get(f"{prefix}health:risk:t1")
            return raw is not None and json.loads(raw)["pid"] == supervisor.children["risk"].process.pid

        await eventually(new_instance_healthy, timeout=20)
    finally:
        codes = await supervisor.stop(grace_secs=20)
    assert codes == {"risk": 0}
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    restarts = [e for e in events if e["type"] == "service_restarted"]
    assert len(restarts) == 1 and restarts[0]["child"] == "risk" and restarts[0]["exit_code"] == -signal.SIGKILL
