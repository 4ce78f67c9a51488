"""A command pointed at a Redis that does not answer says so in one line, without a traceback."""

import os
import subprocess
import sys

import pytest

from shared.redis_conn import free_port

pytestmark = pytest.mark.processes


@pytest.mark.parametrize("argv", [["dashboard", "--once"], ["dead-letters", "intents"]])
def test_a_command_whose_redis_is_down_prints_one_line(tmp_path, argv):
    port = free_port()  # nothing listens there
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "POLYDESK_REDIS_URL": f"redis://127.0.0.1:{port}/0",
           "POLYDESK_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "polydesk", *argv], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"polydesk {argv[0]}: Redis is not reachable" in done.stderr and str(port) in done.stderr
