"""The worker in-process on a real Redis: verdicts from the `signals` stream, other shards' markets ignored,
memory rebuilt from history on restart; and `polydesk signal` posting to the stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from services.strategy.config import StrategySettings
from services.strategy.service import StrategyWorker
from shared.lifecycle import ServiceContext, run_declared
from shared.logging import EventLog, read_events
from shared.messages import ExternalSignal, OrderIntent, Side, decode
from shared.streams import INTENTS, SIGNALS, Bus, Output, events_stream
from tests.helpers import eventually
from tests.integration.test_services import service_env
from tests.strategy.scenario import delta, discovered, info, signal, snapshot

pytestmark = pytest.mark.integration

M, ELSEWHERE = info("va"), info("vb")


def settings(redis_url: str, prefix: str, tmp_path) -> StrategySettings:
    return StrategySettings(_env_file=None, redis_url=redis_url, stream_prefix=prefix, shards=("a", "b"),
                            strategy_shard="a", strategies=("verdict",), verdict_sizing="fixed", instance="t",
                            log_dir=tmp_path, claim_min_idle_ms=60_000)


async def intents(bus: Bus) -> list[OrderIntent]:
    return [m for _, f in await bus.redis.xrange(bus.key(INTENTS)) if isinstance(m := decode(f), OrderIntent)]


async def run_worker(bus: Bus, s: StrategySettings, tmp_path, until) -> None:
    ctx = ServiceContext("strategy", s, bus.redis, bus, EventLog(tmp_path, "strategy"))
    task = asyncio.create_task(run_declared(ctx, StrategyWorker(ctx, s).run))
    try:
        await until()
    finally:
        ctx.request_stop()
        await asyncio.wait_for(task, 10)


async def test_verdicts_trade_the_edge_and_survive_a_restart(bus, redis_url, prefix, tmp_path):
    s = settings(redis_url, prefix, tmp_path)
    await bus.publish_many([Output(events_stream("a"), discovered(M)),
                            Output(events_stream("a"), snapshot(M, "va-yes", [], [("0.40", "100")])),
                            Output(events_stream("a"), snapshot(M, "va-no", [], [("0.62", "100")])),
                            Output(events_stream("b"), discovered(ELSEWHERE))])
    verdict = signal(M, "0.60")

    async def traded() -> None:
        await bus.publish(SIGNALS, signal(ELSEWHERE, "0.99"))  # shard b's market: not this worker's
        await bus.publish(SIGNALS, verdict)
        await eventually(lambda: _count(bus, 1))

    await run_worker(bus, s, tmp_path, traded)
    [intent] = await intents(bus)
    assert (intent.signal_key, intent.token_id, intent.side, intent.price, intent.size) == (
        f"verdict:{verdict.envelope.message_id}", "va-yes", Side.BUY, Decimal("0.40"), Decimal(25))
    # Each signal is logged once, acted on or ignored, with the reason.
    events = read_events(sorted(tmp_path.glob("events-*.jsonl")))
    seen = {e["market"]: e for e in events if e["type"] == "signal_seen"}
    assert (seen[ELSEWHERE.condition_id]["action"], seen[ELSEWHERE.condition_id]["reason"]) == (
        "ignored", "market not served by this worker's shard (or not discovered yet)")
    acted = seen[M.condition_id]
    assert (acted["action"], acted["signal_id"], acted["intent_ids"]) == (
        "acted", verdict.envelope.message_id, [intent.envelope.message_id])
    assert acted["reason"] == intent.reason and acted["source"] == "test" and acted["probability"] == "0.60"

    second = signal(M, "0.60")

    async def cheaper_book() -> None:
        # The rebuilt memory knows the first verdict was acted on (a cheaper ask does not trade it again),
        # and has the market and its book back: a new verdict trades at the new ask.
        await bus.publish(events_stream("a"), delta(M, "va-yes", Side.SELL, "0.30", "100"))
        await eventually(lambda: _acknowledged(bus))
        await bus.publish(SIGNALS, second)
        await eventually(lambda: _count(bus, 2))

    await run_worker(bus, s, tmp_path, cheaper_book)
    assert [(i.signal_key, i.price) for i in await intents(bus)] == [
        (f"verdict:{verdict.envelope.message_id}", Decimal("0.40")),
        (f"verdict:{second.envelope.message_id}", Decimal("0.30")),
    ]


async def _count(bus: Bus, n: int) -> bool:
    return len(await intents(bus)) >= n


async def _acknowledged(bus: Bus) -> bool:
    stats = [g for g in await bus.group_stats(events_stream("a")) if g.group == "strategy:a"]
    return bool(stats) and stats[0].pending == 0 and stats[0].lag == 0


def test_polydesk_signal_posts_an_external_signal(redis_url, prefix, tmp_path):
    env = service_env(redis_url, prefix, tmp_path)
    done = subprocess.run([sys.executable, "-m", "polydesk", "signal", "cond-1", "0.62", "--token", "tok",
                           "--source", "desk", "--ttl-secs", "600"], env=env, cwd=os.getcwd(),
                          capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode()
    bad = subprocess.run([sys.executable, "-m", "polydesk", "signal", "cond-1", "1.5"], env=env, cwd=os.getcwd(),
                         capture_output=True, timeout=30, check=False)
    assert bad.returncode == 2

    async def read() -> list:
        from shared.redis_conn import connect

        client = connect(redis_url)
        try:
            return await Bus(client, prefix=prefix).history(SIGNALS)
        finally:
            await client.aclose()

    [(_, message)] = asyncio.run(read())
    assert isinstance(message, ExternalSignal)
    assert (message.market, message.token_id, message.probability, message.source) == (
        "cond-1", "tok", Decimal("0.62"), "desk")
    assert message.expires_at_ts is not None
