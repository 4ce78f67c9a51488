"""The bus against a real Redis: crash safety, reclaim, dead letters, trimming, stats."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest

from shared.messages import Envelope, ExternalSignal, decode
from shared.streams import Bus, Delivery, Output
from tests.helpers import eventually

pytestmark = pytest.mark.integration


def signal_message(i: int) -> ExternalSignal:
    return ExternalSignal(envelope=Envelope.new("test"), market=f"m{i}", probability=Decimal("0.5"), source="t")


async def publish_inputs(bus: Bus, n: int) -> set[str]:
    messages = [signal_message(i) for i in range(n)]
    await bus.publish_many(Output("in", m) for m in messages)
    return {m.envelope.message_id for m in messages}


async def outputs_by_cause(bus: Bus) -> Counter[str]:
    entries = await bus.redis.xrange(bus.key("out"))
    return Counter(decode(fields).envelope.causation_id for _, fields in entries)


async def pending_count(bus: Bus, group: str = "workers") -> int:
    stats = {s.group: s for s in await bus.group_stats("in")}
    return stats[group].pending if group in stats else -1


def start_worker(redis_url: str, prefix: str, name: str, **opts: object) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.integration.bus_worker", redis_url, prefix, name]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_for_outputs(bus: Bus, at_least: int, timeout: float = 20.0) -> None:
    async def enough() -> bool:
        return sum((await outputs_by_cause(bus)).values()) >= at_least

    await eventually(enough, timeout=timeout, interval=0.01)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


async def test_sigkill_mid_batch_then_restart_gives_exactly_one_output_per_input(bus, redis_url, prefix):
    await bus.ensure_group("in", "workers")
    inputs = await publish_inputs(bus, 300)
    # A kill can land in the short gap between a batch's commit and the next read; kill again until one
    # lands mid-batch (entries pending), which is the case under test.
    for attempt in range(5):
        worker = start_worker(redis_url, prefix, "w1", delay_ms=3, batch=25)
        await wait_for_outputs(bus, 60 * (attempt + 1))
        kill(worker)
        if await pending_count(bus) > 0:
            break
    assert await pending_count(bus) > 0, "no kill landed mid-batch"
    assert sum((await outputs_by_cause(bus)).values()) < 300

    worker = start_worker(redis_url, prefix, "w1", delay_ms=0, batch=25)
    try:
        await wait_for_outputs(bus, 300)
        await eventually(lambda: _is_zero(pending_count(bus)))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    produced = await outputs_by_cause(bus)
    assert set(produced) == inputs
    assert max(produced.values()) == 1


async def test_a_dead_consumers_entries_are_reclaimed_by_the_other(bus, redis_url, prefix):
    await bus.ensure_group("in", "workers")
    inputs = await publish_inputs(bus, 200)
    victim = start_worker(redis_url, prefix, "victim", delay_ms=5, batch=40, idle_ms=400)
    await wait_for_outputs(bus, 20)
    kill(victim)
    survivor = start_worker(redis_url, prefix, "survivor", delay_ms=0, batch=40, idle_ms=400)
    try:
        await wait_for_outputs(bus, 200)
        await eventually(lambda: _is_zero(pending_count(bus)))
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(10)
    produced = await outputs_by_cause(bus)
    assert set(produced) == inputs and max(produced.values()) == 1
    consumers = await bus.redis.xinfo_consumers(bus.key("in"), "workers")
    by_name = {c["name"].decode(): c for c in consumers}
    assert by_name["victim"]["pending"] == 0


async def _is_zero(value) -> bool:
    return (await value) == 0


async def test_poison_entry_is_dead_lettered_after_n_deliveries_while_later_entries_flow(bus):
    handled: list[str] = []

    async def handle(delivery: Delivery) -> list[Output]:
        if delivery.message.market == "m3":
            raise ValueError("cannot price m3")
        handled.append(delivery.message.market)
        return []

    consumer = bus.consumer("in", "g", "c1", handle, block_ms=50, max_deliveries=3, claim_min_idle_ms=50,
                            claim_interval_secs=0.05, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    await publish_inputs(bus, 10)
    try:
        await eventually(lambda: _nonempty(bus.dead_letters("in")), timeout=10)
        await publish_inputs(bus, 2)  # markets m0, m1 again: still flowing after the poison
        await eventually(lambda: _async(len(handled) == 11))
    finally:
        consumer.stop()
        await task
    [letter] = await bus.dead_letters("in")
    assert letter.deliveries == 4
    assert "delivered 4 times (max 3)" in letter.error and "ValueError: cannot price m3" in letter.error
    assert decode(letter.fields).market == "m3"
    assert letter.group == "g"
    assert await pending_count(bus, "g") == 0
    assert "m3" not in handled


async def test_undecodable_and_unknown_entries_are_dead_lettered_and_the_consumer_keeps_running(bus):
    seen: list[str] = []

    async def handle(delivery: Delivery) -> list[Output]:
        seen.append(delivery.message.market)
        return []

    consumer = bus.consumer("in", "g", "c1", handle, block_ms=50, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    await bus.redis.xadd(bus.key("in"), {"type": "order_intent", "v": "7", "data": "{}"})
    await bus.redis.xadd(bus.key("in"), {"garbage": "yes"})
    await bus.redis.xadd(bus.key("in"), {"type": "external_signal", "v": "1", "data": '{"market": 1}'})
    await publish_inputs(bus, 1)
    try:
        await eventually(lambda: _async(seen == ["m0"]))
        await eventually(lambda: _async_len(bus.dead_letters("in"), 3))
    finally:
        consumer.stop()
        await task
    errors = [d.error for d in await bus.dead_letters("in")]
    assert "unknown message type/version 'order_intent' v7" in errors[0]
    assert "lacks a valid type/v/data" in errors[1]
    assert "invalid external_signal v1" in errors[2]
    letters = await bus.dead_letters("in")
    assert letters[1].fields["orig_garbage"] == b"yes"  # the raw entry is kept
    assert await pending_count(bus, "g") == 0


async def test_trimming_under_load_never_removes_pending_or_undelivered_entries(bus):
    await bus.ensure_group("in", "slow")
    await bus.ensure_group("in", "fast")
    ids = await bus.publish_many(Output("in", signal_message(i)) for i in range(500))
    # "fast" reads and acks everything; "slow" reads 100 and acks none; nothing else is delivered to "slow".
    fast = await bus.redis.xreadgroup("fast", "f", {bus.key("in"): ">"}, count=1000)
    await bus.redis.xack(bus.key("in"), "fast", *[entry_id for entry_id, _ in fast[0][1]])
    await bus.redis.xreadgroup("slow", "s", {bus.key("in"): ">"}, count=100)
    await bus.redis.xack(bus.key("in"), "slow", *[i for i in ids[:40]])  # acks the first 40 only

    async def publish_more():
        for _ in range(20):
            await bus.publish_many(Output("in", signal_message(i)) for i in range(50))
            await asyncio.sleep(0)

    load = asyncio.create_task(publish_more())
    removed = 0
    for _ in range(20):
        removed += await bus.trim_acknowledged("in", retain_secs=0)
        await asyncio.sleep(0)
    await load
    assert removed == 40  # exactly what every group acknowledged
    remaining = {e[0].decode() for e in await bus.redis.xrange(bus.key("in"), min=ids[0], max=ids[-1])}
    assert remaining == set(ids[40:])
    pending = await bus.redis.xpending_range(bus.key("in"), "slow", "-", "+", 1000)
    assert len(pending) == 60 and all(p["message_id"].decode() in remaining for p in pending)


async def test_trimming_respects_the_retention_and_leaves_group_less_streams_alone(bus):
    await bus.publish_many(Output("nogroup", signal_message(i)) for i in range(5))
    assert await bus.trim_acknowledged("nogroup", retain_secs=0) == 0
    await bus.ensure_group("in", "g")
    await bus.publish_many(Output("in", signal_message(i)) for i in range(5))
    entries = await bus.redis.xreadgroup("g", "c", {bus.key("in"): ">"}, count=10)
    await bus.redis.xack(bus.key("in"), "g", *[e[0] for e in entries[0][1]])
    assert await bus.trim_acknowledged("in", retain_secs=3600) == 0
    assert await bus.trim_acknowledged("in", retain_secs=0) == 5


async def test_group_creation_is_idempotent_and_stats_report_lag_and_pending(bus):
    assert await bus.ensure_group("in", "g") is True
    assert await bus.ensure_group("in", "g") is False
    await publish_inputs(bus, 7)
    await bus.redis.xreadgroup("g", "c", {bus.key("in"): ">"}, count=3)
    [stats] = await bus.group_stats("in")
    assert (stats.group, stats.pending, stats.lag, stats.consumers) == ("g", 3, 4, 1)
    assert await bus.group_stats("absent") == []


async def test_restarted_consumer_finishes_its_own_pending_entries_first(bus):
    await bus.ensure_group("in", "g")
    await publish_inputs(bus, 5)
    await bus.redis.xreadgroup("g", "c1", {bus.key("in"): ">"}, count=2)  # a crash left two pending
    order: list[tuple[str, int]] = []

    async def handle(delivery: Delivery) -> list[Output]:
        order.append((delivery.message.market, delivery.deliveries))
        return []

    consumer = bus.consumer("in", "g", "c1", handle, block_ms=50, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    await eventually(lambda: _async(len(order) == 5))
    consumer.stop()
    await task
    assert order[:2] == [("m0", 2), ("m1", 2)]
    assert [m for m, _ in order[2:]] == ["m2", "m3", "m4"]


async def test_outputs_and_ack_commit_together_and_a_stale_owner_cannot_commit(bus):
    """A paused worker whose entry was reclaimed must not write its outputs (ownership check)."""
    await bus.ensure_group("in", "g")
    await publish_inputs(bus, 1)
    release = asyncio.Event()

    async def slow(delivery: Delivery) -> list[Output]:
        await release.wait()
        return [Output("out", delivery.message)]

    async def fast(delivery: Delivery) -> list[Output]:
        return [Output("out", delivery.message)]

    paused = bus.consumer("in", "g", "paused", slow, block_ms=50, claim_interval_secs=3600, trim_interval_secs=None)
    paused_task = asyncio.create_task(paused.run())
    await eventually(lambda: _async_eq(pending_count(bus, "g"), 1))
    await asyncio.sleep(0.1)
    taker = bus.consumer("in", "g", "taker", fast, block_ms=50, claim_min_idle_ms=50, claim_interval_secs=3600,
                         trim_interval_secs=None)
    assert await taker.reclaim_once() == 1
    release.set()
    await asyncio.sleep(0.2)
    paused.stop()
    await paused_task
    assert sum((await outputs_by_cause(bus)).values()) == 1
    assert await pending_count(bus, "g") == 0


async def _nonempty(value) -> bool:
    return bool(await value)


async def _async(value: bool) -> bool:
    return value


async def _async_len(value, n: int) -> bool:
    return len(await value) == n


async def _async_eq(value, expected) -> bool:
    return (await value) == expected


async def test_trim_log_trims_by_age_only_streams_no_group_reads(bus):
    await bus.publish_many(Output("decisions", signal_message(i)) for i in range(4))
    assert await bus.trim_log("decisions", retain_secs=3600) == 0
    assert await bus.trim_log("decisions", retain_secs=0) == 4
    await bus.ensure_group("in", "g")
    await publish_inputs(bus, 3)
    assert await bus.trim_log("in", retain_secs=0) == -1
    assert await bus.length("in") == 3


async def test_a_dead_letter_can_be_requeued_after_a_fix(bus, redis_url, prefix, tmp_path):
    import os
    import subprocess
    import sys

    await bus.ensure_group("in", "g")
    await bus.redis.xadd(bus.key("in"), {"type": "external_signal", "v": "9", "data": "{}"})
    consumer = bus.consumer("in", "g", "c1", lambda d: _async([]), block_ms=50, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    await eventually(lambda: _async_len(bus.dead_letters("in"), 1))
    consumer.stop()
    await task
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    env.update(POLYDESK_REDIS_URL=redis_url, POLYDESK_STREAM_PREFIX=prefix)
    listed = subprocess.run([sys.executable, "-m", "polydesk", "dead-letters", "in", "--requeue"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "unknown message type/version 'external_signal' v9" in listed.stdout
    assert await bus.dead_letters("in") == []
    [(_, fields)] = await bus.redis.xrange(bus.key("in"), min="(" + (await bus.group_stats("in"))[0].last_delivered_id)
    assert fields[b"v"] == b"9"


async def test_a_consumer_outlives_a_redis_restart_and_loses_nothing(tmp_path):
    """Redis (with AOF) is SIGKILLed and restarted mid-stream; the consumer backs off and carries on."""
    from shared.redis_conn import connect, start_embedded

    server = start_embedded(tmp_path / "redis", port=0)
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    client = connect(server.url)
    bus = Bus(client, prefix="t:", producer="test")
    seen: list[str] = []

    async def handle(delivery: Delivery) -> list[Output]:
        seen.append(delivery.message.market)
        return [Output("out", delivery.message)]

    consumer = bus.consumer("in", "g", "c1", handle, block_ms=100, trim_interval_secs=None)
    task = asyncio.create_task(consumer.run())
    try:
        await bus.publish_many(Output("in", signal_message(i)) for i in range(50))
        await eventually(lambda: _async(len(seen) == 50))
        await asyncio.sleep(1.2)  # appendfsync everysec
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        await asyncio.sleep(0.5)
        assert not task.done()
        server = start_embedded(tmp_path / "redis", port=port)
        # The test talks through a fresh client; the consumer keeps its own, whose pooled connections died.
        fresh = Bus(connect(server.url), prefix="t:", producer="test")
        assert await fresh.length("in") == 50  # AOF kept the stream (and the group)
        await fresh.publish_many(Output("in", signal_message(i)) for i in range(50, 80))
        await eventually(lambda: _async(len(set(seen)) == 80), timeout=20)
        await eventually(lambda: _is_zero(pending_count(fresh, "g")), timeout=20)
        assert await fresh.length("out") == len(seen)  # every handled entry committed its output once
        await fresh.redis.aclose()
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)
        await client.aclose()
        server.stop()

