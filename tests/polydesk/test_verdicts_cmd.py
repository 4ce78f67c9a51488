"""`polydesk verdicts`, `polydesk approve ID`, `polydesk reject ID` against a real Redis: the list, a decision
sent to strategy with the person as actor, and a refusal with the reason for an expired verdict."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from shared import messages as m
from shared.approvals import VerdictStore
from shared.streams import SIGNALS
from tests.strategy.scenario import info, signal

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
M = info("cmd")


def polydesk(redis_url, prefix, tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=redis_url, POLYDESK_STREAM_PREFIX=prefix, POLYDESK_ENV_FILE=str(tmp_path / "no"),
               POLYDESK_STATE_DIR=str(tmp_path / "state"), POLYDESK_LOG_DIR=str(tmp_path / "logs"))
    return subprocess.run([sys.executable, "-m", "polydesk", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


async def test_list_decide_and_refuse(bus, redis_url, prefix, tmp_path):
    store = VerdictStore(bus.redis, bus.prefix)
    pending, stale = signal(M, "0.61", at=time.time()), signal(M, "0.30", at=time.time() - 100)
    await store.hold(pending, shard="main", question="Will it snow?", expires_at=time.time() + 600, now=time.time())
    await store.hold(stale, shard="main", question="Old news?", expires_at=time.time() - 1, now=time.time() - 100)

    listed = polydesk(redis_url, prefix, tmp_path, "verdicts")
    assert listed.returncode == 0 and pending.envelope.message_id in listed.stdout
    assert "p=0.61 from test  Will it snow?" in listed.stdout and "Old news?" not in listed.stdout

    late = polydesk(redis_url, prefix, tmp_path, "approve", stale.envelope.message_id, "--wait", "0")
    assert late.returncode == 1
    assert f"refused: verdict {stale.envelope.message_id} expired at " in late.stderr
    assert "Traceback" not in late.stderr

    asked = polydesk(redis_url, prefix, tmp_path, "reject", pending.envelope.message_id, "--reason", "no edge",
                     "--wait", "0")
    assert asked.returncode == 0 and "strategy has not confirmed it yet" in asked.stderr
    decisions = [m.decode(f) for _, f in await bus.redis.xrange(bus.key(SIGNALS))]
    [decision] = [d for d in decisions if isinstance(d, m.VerdictDecision)]
    assert (decision.verdict_id, decision.approve, decision.reason) == (pending.envelope.message_id, False, "no edge")
    assert decision.actor.startswith("cli:")
