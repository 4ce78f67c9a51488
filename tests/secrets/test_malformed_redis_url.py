"""A Redis URL whose password is not URL-encoded ('/' or ':' in it) is refused without quoting any of it:
urllib's own error quotes the text after the first ':' and mask_url used to find no password to mask."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import mask_url
from shared.errors import ConfigurationError
from shared.redis_conn import connect, connect_sync, is_reachable, resolve_redis

PASSWORD = "rEdis-Pw:scan/7Qz+9%secret"
FRAGMENTS = ("rEdis-Pw", "scan/7Qz", "7Qz+9", "9%secret")
BAD_URL = f"redis://:{PASSWORD}@127.0.0.1:1/0"


def _clean(text: str) -> bool:
    return not any(fragment in text for fragment in FRAGMENTS)


def test_mask_url_masks_an_unencoded_password():
    assert mask_url(BAD_URL) == "redis://:****@127.0.0.1:1/0"
    assert mask_url("redis://user:p%40ss@h:6379/0") == "redis://user:****@h:6379/0"
    assert mask_url("redis://h:6379/0") == "redis://h:6379/0"
    assert mask_url("redis://user@h:6379/0") == "redis://user@h:6379/0"


@pytest.mark.parametrize("call", [connect, connect_sync, is_reachable,
                                  lambda url: resolve_redis(url, None, Path("."))])
def test_clients_refuse_the_url_without_quoting_it(call):
    with pytest.raises(ConfigurationError) as caught:
        call(BAD_URL)
    assert "POLYDESK_REDIS_URL" in str(caught.value) and _clean(str(caught.value))


@pytest.mark.processes  # starts polydesk processes: not in make test-fast
@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [["config"], ["dash", "--once"], ["up", "--duration", "1"]])
def test_commands_print_no_part_of_it(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=BAD_URL, POLYDESK_ENV_FILE=str(tmp_path / "none.env"),
               POLYDESK_STATE_DIR=str(tmp_path / "state"), POLYDESK_LOG_DIR=str(tmp_path / "logs"))
    done = subprocess.run([sys.executable, "-m", "polydesk", *command], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=50, check=False)
    assert _clean(done.stdout + done.stderr), done.stdout + done.stderr
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.jsonl"))
    assert _clean(logs)
