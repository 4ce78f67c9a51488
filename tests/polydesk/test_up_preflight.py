"""`polydesk up` checks every layer's settings before it starts anything; a setting error is one line naming
the field (never a traceback); a crash-looping service is given up on with its last error; nothing is left
running after a failed start; `polydesk redis` stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from polydesk.dashboard import DashboardState, render
from polydesk.supervisor import Supervisor
from shared.logging import EventLog, read_events
from shared.redis_conn import free_port, is_reachable
from tests.helpers import eventually

pytestmark = pytest.mark.processes  # starts polydesk processes: not in make test-fast

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(POLYDESK_STATE_DIR=str(tmp_path / "state"), POLYDESK_LOG_DIR=str(tmp_path / "logs"), **settings)
    return env


def _up(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polydesk", "up", "--duration", "1", *args],
                          env=_env(tmp_path, **settings), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize(("settings", "field"), [
    ({"POLYDESK_MAX_DAILY_LOSS_USD": "abc"}, "POLYDESK_MAX_DAILY_LOSS_USD"),
    ({"POLYDESK_MAX_DAILY_LOSS_USD": "-5"}, "POLYDESK_MAX_DAILY_LOSS_USD"),
    ({"POLYDESK_METRICS_HOST": "no-such-host.invalid"}, "POLYDESK_METRICS_HOST"),
    ({"POLYDESK_REDIS_URL": "notaurl"}, "POLYDESK_REDIS_URL"),
    ({"POLYDESK_CLOB_URL": "https://clob.polymarket.com", "POLYDESK_WALLET_ADDRESS": "0x12"},
     "POLYDESK_WALLET_ADDRESS"),
    ({"POLYDESK_CLOB_URL": "https://clob.polymarket.com"}, "POLYDESK_PRIVATE_KEY"),
    ({"POLYDESK_SHARDS": ""}, "POLYDESK_SHARDS"),
    ({"POLYDESK_GAMMA_URL": "ftp://example.com"}, "POLYDESK_GAMMA_URL"),
    ({"POLYDESK_CLOB_URL": "https://clob.polymarket.com", "POLYDESK_STRATEGIES": "copy"},
     "POLYDESK_COPY_WALLETS"),
])
def test_a_bad_setting_of_any_layer_stops_up_before_anything_starts(tmp_path, settings, field):
    result = _up(tmp_path, **settings)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and lines[0].startswith("polydesk up: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no banner: nothing was started
    assert not (tmp_path / "state" / "runs").exists() and not (tmp_path / "state" / "redis").exists()


def test_a_bad_setting_in_dotenv_is_found_too(tmp_path):
    (tmp_path / ".env").write_text("POLYDESK_MAX_DAILY_LOSS_USD=abc\n")
    result = _up(tmp_path)
    assert result.returncode == 2 and "risk: invalid settings: POLYDESK_MAX_DAILY_LOSS_USD" in result.stderr


def test_a_metrics_port_in_use_is_named_before_start(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _up(tmp_path, POLYDESK_UP_METRICS_PORT_BASE=str(port), POLYDESK_METRICS_HOST="127.0.0.1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "POLYDESK_METRICS_PORT" in result.stderr and str(port) in result.stderr


def test_a_control_api_port_in_use_is_named_before_start(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _up(tmp_path, POLYDESK_API_PORT=str(port))
    assert result.returncode == 2, result.stderr
    assert f"POLYDESK_API_PORT: port {port} on 127.0.0.1 (the control API) is in use" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_nothing_is_left_running_when_the_paper_exchange_cannot_start(tmp_path):
    redis_port = free_port()
    with socket.socket() as holder:  # the paper exchange's port is taken
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = _up(tmp_path, POLYDESK_REDIS_EMBEDDED="true", POLYDESK_EMBEDDED_REDIS_PORT=str(redis_port),
                     POLYDESK_PAPER_PORT=str(holder.getsockname()[1]))
    assert result.returncode == 2, result.stderr
    assert "paper exchange did not start" in result.stderr and "Traceback" not in result.stderr
    assert list((tmp_path / "state" / "runs").glob("*/redis/appendonly.aof*"))  # the embedded Redis started...
    assert not is_reachable(f"redis://127.0.0.1:{redis_port}/0")  # ...and was stopped


async def test_a_crash_looping_service_is_given_up_on_with_its_last_error(tmp_path):
    events = EventLog(tmp_path / "logs", "up")
    supervisor = Supervisor(events, backoff_base_secs=0.01, backoff_max_secs=0.05, max_failures_in_a_row=3)
    env = _env(tmp_path)
    supervisor.add_service("risk", env, module="tests.polydesk.crashing_service")
    await supervisor.start(log_dir=tmp_path)
    try:
        await asyncio.wait_for(supervisor.gave_up.wait(), timeout=30)
    finally:
        await supervisor.stop(grace_secs=5)
    status = supervisor.status()["risk"]
    assert status["state"] == "gave up" and status["restarts"] == 2 and status["last_exit_code"] == 3
    assert status["last_error"].endswith("ERROR fake: boom: the database is on fire")
    assert "boom" in (tmp_path / "risk.log").read_text()  # the output still reaches the service's log
    kinds = [e["type"] for e in read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))]
    assert kinds.count("service_restarted") == 2 and kinds.count("service_gave_up") == 1


def test_the_dashboard_shows_a_down_service_with_its_last_error():
    state = DashboardState(taken_at=0.0, health={"risk": [], "ingest": []},
                           supervised={"risk": {"state": "restarting", "restarts": 4,
                                                "last_error": "risk: invalid settings: POLYDESK_X: bad"}})
    console = Console(record=True, width=200, height=60)
    console.print(render(state))
    text = console.export_text()
    assert "restarts=4: risk: invalid settings: POLYDESK_X: bad" in text


def test_up_gives_up_on_a_crash_looping_service_and_stops(tmp_path, monkeypatch):
    monkeypatch.setattr("polydesk.supervisor.Supervisor.add_service", _crashing_add_service)
    from polydesk import up

    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("POLYDESK_")]:
        monkeypatch.delenv(key)
    for key, value in _env(tmp_path, POLYDESK_UP_SERVICES="risk", POLYDESK_RESTART_BACKOFF_BASE_SECS="0.01",
                           POLYDESK_RESTART_MAX_FAILURES="2", POLYDESK_REDIS_EMBEDDED="true",
                           POLYDESK_EMBEDDED_REDIS_PORT=str(free_port()), POLYDESK_PAPER_PORT="0",
                           POLYDESK_PAPER_SCENARIO="none").items():
        monkeypatch.setenv(key, value)
    code = up.main(["--duration", "120"])
    assert code == 1
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    gave_up = [e for e in events if e["type"] == "service_gave_up"]
    assert gave_up and "boom" in gave_up[0]["last_error"]
    assert next(e for e in events if e["type"] == "up_stopped")["elapsed_secs"] < 60


def _crashing_add_service(self, name, env, module=None):
    from polydesk.supervisor import Child

    child = Child(name, [sys.executable, "-m", "tests.polydesk.crashing_service"], env)
    self.children[name] = child
    return child


def test_polydesk_redis_stops_on_sigterm(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "polydesk", "redis", "--port", str(port)],
                               env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        eventually(lambda: is_reachable(f"redis://127.0.0.1:{port}/0") or process.poll() is not None,
                   timeout=30, interval=0.1)
        assert process.poll() is None, process.communicate()[1]  # it started (else: why, on stderr)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.communicate()[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert not is_reachable(f"redis://127.0.0.1:{port}/0")


def test_polydesk_redis_asked_to_stop_while_starting_stops_the_server_too(tmp_path):
    """systemd may stop the unit while the server is still starting: the server must not outlive us."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "polydesk", "redis", "--port", str(port)],
                               env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        # The data folder appears as the server is being started (after our handlers are in place).
        eventually(lambda: (tmp_path / "state" / "redis").exists() or process.poll() is not None,
                   timeout=30, interval=0.01)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.communicate()[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert not is_reachable(f"redis://127.0.0.1:{port}/0")


async def test_eventually_helper_is_importable():  # keeps the helper import used by the async tests
    assert await eventually(lambda: asyncio.sleep(0, result=True)) is True


async def test_polydesk_dash_elsewhere_sees_the_supervisors_view(bus):
    """`polydesk up` publishes each service's state, restarts and last error; `collect` reads it back."""
    import json

    from polydesk.dashboard import collect, supervised_key

    view = {"risk": {"state": "restarting", "restarts": 3, "last_error": "risk: POLYDESK_X: bad",
                     "last_exit_code": 2}}
    await bus.redis.set(supervised_key(bus.prefix), json.dumps(view), px=5000)
    state = await collect(bus)
    assert state.supervised == view
    console = Console(record=True, width=200, height=60)
    console.print(render(state))
    assert "restarts=3: risk: POLYDESK_X: bad" in console.export_text()
