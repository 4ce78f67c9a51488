"""Two shards served by two worker processes on a real Redis: per-market order, and a SIGKILLed worker's
work finished by its replacement (same instance name) without loss or duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pytest

from services.strategy.service import group_name
from shared.messages import OrderIntent, Side, TradeStatus, decode
from shared.streams import FILLS, INTENTS, Bus, Output, events_stream
from tests.helpers import eventually
from tests.integration.test_services import service_env
from tests.strategy.scenario import discovered, fill, info, snapshot, trade

pytestmark = pytest.mark.integration

SHARDS = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b3"]}
TRADES_PER_MARKET = 700
SELL_EVERY = 10  # on the first market of each shard, backed by a fill in the `fills` stream


def start_worker(redis_url: str, prefix: str, tmp_path, shard: str) -> subprocess.Popen[bytes]:
    env = service_env(redis_url, prefix, tmp_path / shard, POLYDESK_SHARDS="a,b", POLYDESK_STRATEGY_SHARD=shard,
                      POLYDESK_INSTANCE=f"w{shard}", POLYDESK_STRATEGIES="copy", POLYDESK_COPY_WALLETS="0xLeader",
                      POLYDESK_COPY_SIZE_RATIO="0.5", POLYDESK_COPY_MIN_SIZE_USD="0")
    return subprocess.Popen([sys.executable, "-m", "services.strategy"], env=env, cwd=os.getcwd(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def publish_scenario(bus: Bus) -> tuple[dict[str, list[str]], list[Output]]:
    """Books and the first half of the leader trades for every market; returns each market's trade keys in
    publication order and the second half, left for the caller to publish (while a worker is down)."""
    expected: dict[str, list[str]] = {}
    later: list[Output] = []
    for shard, markets in SHARDS.items():
        setup: list[Output] = []
        trades: list[Output] = []
        for m in markets:
            market = info(m)
            setup += [Output(events_stream(shard), discovered(market)),
                      Output(events_stream(shard), snapshot(market, f"{m}-yes", [("0.49", "500")], [("0.51", "500")]))]
            expected[m] = []
            for i in range(TRADES_PER_MARKET):
                side = Side.SELL if m == markets[0] and i % SELL_EVERY == 0 else Side.BUY
                key = f"{m}-{i:04d}"
                trades.append(Output(events_stream(shard), trade(market, f"{m}-yes", side, "20", "0.50", key=key)))
                expected[m].append(key)
        held = fill(info(markets[0]), f"{markets[0]}-yes", Side.BUY, "100000", trade_id=f"seed-{shard}",
                    status=TradeStatus.MINED)  # settled: copy sells only shares on chain
        await bus.publish_many([*setup, Output(FILLS, held)])
        # Interleave the markets as a venue would, so a batch holds several markets.
        interleaved = [trades[i + k * TRADES_PER_MARKET] for i in range(TRADES_PER_MARKET) for k in range(len(markets))]
        half = len(interleaved) // 2
        await bus.publish_many(interleaved[:half])
        later += interleaved[half:]
    return expected, later


async def intents(bus: Bus) -> list[OrderIntent]:
    out = []
    for _, fields in await bus.redis.xrange(bus.key(INTENTS)):
        message = decode(fields)
        assert isinstance(message, OrderIntent)
        out.append(message)
    return out


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, process.stderr.read().decode() if process.stderr else ""


async def test_two_shards_keep_per_market_order_and_a_killed_worker_loses_nothing(bus, redis_url, prefix, tmp_path):
    expected, second_half = await publish_scenario(bus)
    total = sum(len(keys) for keys in expected.values())
    workers = {shard: start_worker(redis_url, prefix, tmp_path, shard) for shard in SHARDS}
    try:
        async def shard_a_started() -> bool:
            return sum(1 for i in await intents(bus) if i.market.startswith("a")) >= 150

        await eventually(shard_a_started, timeout=30, interval=0.005)
        workers["a"].send_signal(signal.SIGKILL)
        workers["a"].wait(10)
        done_at_kill = sum(1 for i in await intents(bus) if i.market.startswith("a"))
        # However fast the first half went, the second half arrives while shard a's worker is dead.
        await bus.publish_many(second_half)
        assert done_at_kill < total // 2, "the kill should land before shard a is done"

        workers["a"] = start_worker(redis_url, prefix, tmp_path, "a")

        async def all_done() -> bool:
            return len({i.envelope.message_id for i in await intents(bus)}) >= total

        await eventually(all_done, timeout=40, interval=0.1)
    finally:
        for process in workers.values():
            if process.poll() is None:
                stop(process)

    emitted = await intents(bus)
    assert len(emitted) == len({i.envelope.message_id for i in emitted}) == total  # exactly once
    by_market: dict[str, list[str]] = defaultdict(list)
    for intent in emitted:
        by_market[intent.market].append(intent.signal_key.removeprefix("copy:"))
    assert dict(by_market) == expected  # every trade, each market in its own order
    sells = [i for i in emitted if i.side is Side.SELL]
    assert len(sells) == 2 * TRADES_PER_MARKET // SELL_EVERY  # inventory came back from `fills` after the kill
    assert all(i.size == Decimal(10) for i in emitted)
    for shard in SHARDS:
        stats = {s.group: s for s in await bus.group_stats(events_stream(shard))}[group_name(shard)]
        assert stats.pending == 0 and stats.consumers == 1  # one worker per shard, nothing left behind
