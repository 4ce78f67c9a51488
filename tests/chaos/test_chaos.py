"""The chaos run (issue 10): SIGKILL services at random and Redis once during a paper run, then audit.

The short run is part of the normal suite; the long one (10,000 events, 20 kills) runs with --runslow.
`pytest -s` shows the counts; they are also written to the test's tmp dir (chaos-counts.txt).
"""

from __future__ import annotations

import pickle

import pytest

from tests.chaos.audit import audit
from tests.chaos.harness import ChaosConfig, dump, run_chaos, summary

pytestmark = pytest.mark.integration


async def _run_and_audit(tmp_path, config: ChaosConfig) -> None:
    run = await run_chaos(tmp_path / "run", config)
    (tmp_path / "records.pickle").write_bytes(pickle.dumps(run.records))  # for a look after a failure
    result = audit(run.records)
    text = result.table()
    extra = summary(run)
    print("\n" + text)
    print(extra)
    dump(tmp_path / "chaos-counts.txt", text, extra)
    assert result.counts["events"] >= config.events
    assert run.records.kills.get("redis", 0) == config.redis_kills
    assert sum(n for k, n in run.records.kills.items() if k != "redis") == config.service_kills
    assert result.counts["intents"] > 0 and result.counts["exchange orders"] > 0
    assert not run.notes, run.notes
    assert result.clean, "\n".join(result.problems[:50])


@pytest.mark.timeout(600)
async def test_chaos_short(tmp_path):
    await _run_and_audit(tmp_path, ChaosConfig(events=1500, service_kills=5, redis_kills=1, speed=8.0, seed=1))


@pytest.mark.slow
@pytest.mark.timeout(2400)
async def test_chaos_long(tmp_path):
    await _run_and_audit(tmp_path, ChaosConfig(events=10_000, service_kills=20, redis_kills=1, speed=8.0, seed=2,
                                               chaos_timeout_secs=1200.0))
