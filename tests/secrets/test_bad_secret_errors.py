"""A malformed secret fails the executor at start with a message that names the setting, never the value:
exception texts, console and event log are searched for the value in every encoding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_services import service_env
from tests.secrets.scan import files_under, leaks, needles

pytestmark = pytest.mark.integration

BAD_KEYS = {
    "too short": "0x" + "5ca9" * 15 + "7e",  # 62 hex digits
    "not hex": "0x" + "5ca9" * 15 + "zz7e",
    "out of range": "0x" + "ff" * 32,  # above the curve order
    "without 0x, trailing junk": "5ca9" * 16 + "!!",
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_malformed_private_key_is_not_echoed(case, redis_url, prefix, tmp_path):
    key = BAD_KEYS[case]
    env = service_env(redis_url, prefix, tmp_path, POLYDESK_PRIVATE_KEY=key, POLYDESK_LOG_LEVEL="DEBUG",
                      POLYDESK_CLOB_URL="http://127.0.0.1:9", POLYDESK_API_SECRET="not base64 at all !!",
                      POLYDESK_API_KEY="k-scan-bad", POLYDESK_API_PASSPHRASE="pp-scan-bad-0001")
    done = subprocess.run([sys.executable, "-m", "services.executor"], env=env, cwd=Path(__file__).parents[2],
                          capture_output=True, timeout=80, check=False)
    # Refused at start as a bad setting, named, without quoting it (the error text we search exists).
    assert done.returncode == 2
    assert b"POLYDESK_PRIVATE_KEY: must be a secp256k1 private key" in done.stderr
    sources = {"stdout": done.stdout, "stderr": done.stderr, **files_under(tmp_path, set())}
    found = leaks(needles("private key", key) + needles("API secret", "not base64 at all !!"), sources)
    assert not found, found
