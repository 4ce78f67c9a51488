"""The chaos run (issues 10, 15): SIGKILL services at random and the executor at each aimed point (after
sign, after save, after post, before ack), Redis, faults after the venue applied the order, poison on the
events stream, during a paper run with market making; then audit exactly once (tests/chaos/audit.py).

The short run is part of the normal suite; the long one (10,000 events, 30 kills, Redis twice, the executor
paused past the claim idle time) runs with --runslow. `pytest -s` shows the counts; they are also written to
the test's tmp dir (chaos-counts.txt).
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
    poison_kill = 1 if config.poison else 0  # the strategy kill right after the poison
    assert sum(n for k, n in run.records.kills.items() if k != "redis") == config.service_kills + poison_kill
    assert run.records.aimed == {point: 1 for point in config.aimed_kills}
    assert len(run.records.faults) == len(config.faults)
    assert run.records.pauses == ({"executor": 1} if config.pause_executor else {})
    assert result.counts["intents"] > 0 and result.counts["exchange orders"] > 0
    assert not config.poison or result.counts["poison entries dead-lettered"] == 2
    assert not run.notes, run.notes
    assert result.clean, "\n".join(result.problems[:50])


@pytest.mark.serial
@pytest.mark.timeout(600)
async def test_chaos_short(tmp_path):
    # Two of the four aimed windows (the save-then-post window and the post-then-record window, where the
    # issue-15 bugs were); each aimed kill costs an executor restart, and the run must stay short. The long
    # run aims at all four.
    await _run_and_audit(tmp_path, ChaosConfig(events=600, service_kills=2, redis_kills=1, speed=8.0, seed=1,
                                               aimed_kills=("after_save", "after_post")))


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_chaos_long(tmp_path):
    # 30 kills: 23 at random, 4 aimed at the executor's windows, and the strategy kill after the poison.
    await _run_and_audit(tmp_path, ChaosConfig(events=10_000, service_kills=25, redis_kills=2, speed=8.0, seed=2,
                                               pause_executor=True, chaos_timeout_secs=1800.0))
