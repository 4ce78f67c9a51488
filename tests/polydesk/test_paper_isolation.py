"""Paper `polydesk up` is isolated: its own password-protected embedded Redis on a free port (never the
machine's 6379 unless POLYDESK_REDIS_URL names it), free ports, state in a folder of its own under
state/runs/ (0700, files 0600); `--fresh` and `polydesk reset` remove earlier runs; commands find the Redis
of a run still going."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from polydesk.runs import RunDir, clear_runs, live_run, new_run
from shared.config import ServiceSettings
from shared.logging import read_events
from shared.redis_conn import is_reachable

pytestmark = pytest.mark.processes  # starts polydesk processes: not in make test-fast

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(POLYDESK_PAPER_SCENARIO="none", **settings)
    return env


def _polydesk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polydesk", *args], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_paper_up_runs_on_its_own_redis_and_state_folder_and_fresh_and_reset_remove_old_runs(tmp_path):
    # Whether each service stopped cleanly is test_up_paper's business; here: where things ran.
    first = _polydesk(tmp_path, "up", "--duration", "10")
    assert "PAPER mode" in first.stdout and "polydesk ran" in first.stdout, first.stderr[-3000:]
    runs = sorted((tmp_path / "state" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    info = json.loads((run / "run.json").read_text())
    assert not info["redis_url"].endswith(":6379/0") and not info["redis_url"].endswith(":6390/0")
    password_file = run / "redis" / "password"  # the admin's (the default user), for `up` itself
    password = password_file.read_text()
    assert password and password not in (run / "run.json").read_text()
    assert _mode(password_file) == 0o600 and _mode(run) == 0o700
    files = [p for p in run.rglob("*") if p.is_file()]
    assert any(p.name.startswith("appendonly.aof") for p in files)
    assert {p.name: _mode(p) & 0o077 for p in files} == {p.name: 0 for p in files}  # SQLite, AOF: ours alone
    assert not (run / "up.pid").exists()  # released at the end
    # One Redis ACL user per service and `cli` (shared/acl.py), each with its own password file.
    assert info["redis_username"] == "cli" and info["redis_password_file"] == str(run / "redis" / "users" / "cli")
    assert sorted(p.name for p in (run / "redis" / "users").iterdir()) == [
        "cli", "executor", "ingest", "notifier", "risk", "strategy"]
    assert 8900 not in info["metrics_ports"].values() and len(set(info["metrics_ports"].values())) == 4
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    started = next(e for e in events if e["type"] == "up_started")
    assert started["embedded_redis_pid"] is not None and not started["paper_exchange_url"].endswith(":8900")
    assert not is_reachable(info["redis_url"], password)  # stopped with the run

    second = _polydesk(tmp_path, "up", "--duration", "2")
    assert "polydesk ran" in second.stdout, second.stderr[-3000:]
    assert len(list((tmp_path / "state" / "runs").iterdir())) == 2  # a new folder: nothing carried over

    fresh = _polydesk(tmp_path, "up", "--fresh", "--duration", "2")
    assert "polydesk ran" in fresh.stdout, fresh.stderr[-3000:]
    remaining = list((tmp_path / "state" / "runs").iterdir())
    assert len(remaining) == 1 and run not in remaining

    reset = _polydesk(tmp_path, "reset")
    assert reset.returncode == 0, reset.stderr
    assert list((tmp_path / "state" / "runs").iterdir()) == []
    assert not (tmp_path / "state" / "paper" / "executor.key").exists()


def test_commands_find_the_redis_of_a_run_still_going(tmp_path, monkeypatch):
    from polydesk.common import cli_redis

    for key in [k for k in os.environ if k.startswith("POLYDESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    run = new_run(tmp_path / "state")  # marked as ours: this process is alive
    run.describe(redis_url="redis://127.0.0.1:50001/0", redis_password_file=str(run.redis_password_file()))
    settings = ServiceSettings(state_dir=tmp_path / "state")
    assert live_run(settings.state_dir) == RunDir(run.path)
    assert cli_redis(settings) == ("redis://127.0.0.1:50001/0", run.redis_password_file().read_text(), None)
    _, busy = clear_runs(settings.state_dir)
    assert busy == [run.path]  # a run still going is never removed
    run.release()
    assert live_run(settings.state_dir) is None
    removed, busy = clear_runs(settings.state_dir)
    assert removed == [run.path] and busy == []
