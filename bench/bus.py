"""Bus benchmark: msgs/s and one-hop latency through shared.streams, next to bare redis-py in the same run.

    python -m bench.bus [--messages 50000] [--rate 1000] [--seconds 3] [--redis-url URL]

Producer and consumer run in separate processes, as the services do, both on redis-py's asyncio client
(what the services use), so the ratio is what shared.streams adds. The bare baseline sends the very
bytes our encoding produces, with XADD (pipelined, batches of 100) and XREADGROUP COUNT 100 + XACK; ours
adds model encoding, decoding and validation, the handler call and the ownership-checked commit script.
Latency is measured from the producer's wall clock at send to the consumer's at handler entry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from decimal import Decimal

import redis
import redis.asyncio as aioredis

from bench.goals import GoalResult
from shared.messages import BookDelta, Envelope, LevelChange, Side, encode, replace
from shared.redis_conn import DEFAULT_URL, connect, is_reachable, start_embedded
from shared.streams import Bus, Delivery, Output

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
BATCH = 100


def sample_message() -> BookDelta:
    return BookDelta(
        envelope=Envelope.new("bench"),
        market="0x" + "ab" * 32,
        changes=(LevelChange(token_id=TOKEN, side=Side.BUY, price=Decimal("0.49"), size=Decimal("120.5")),),
        best_bid={TOKEN: Decimal("0.49")},
        best_ask={TOKEN: Decimal("0.51")},
    )


# ---- bare redis-py ----------------------------------------------------------------------------------


def bare_produce(url: str, key: str, n: int, rate: float | None, started: mp.Value) -> None:  # type: ignore[type-arg]
    asyncio.run(_bare_produce(url, key, n, rate, started))


async def _bare_produce(url: str, key: str, n: int, rate: float | None, started: mp.Value) -> None:  # type: ignore[type-arg]
    client = aioredis.Redis.from_url(url)
    fields = encode(sample_message())
    if rate is None:
        started.value = time.time()
        for start in range(0, n, BATCH):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(BATCH, n - start)):
                pipe.xadd(key, fields)
            await pipe.execute()
    else:
        for i in range(n):
            _pace(i, rate)
            await client.xadd(key, {**fields, b"t": str(time.time_ns()).encode()})
    await client.aclose()


async def bare_consume(url: str, key: str, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    client = aioredis.Redis.from_url(url)
    got, latencies = 0, []
    while got < n:
        reply = await client.xreadgroup("g", "c", {key: ">"}, count=BATCH, block=1000)
        if not reply:
            continue
        now = time.time_ns()
        entries = reply[0][1]
        for _, fields in entries:
            if b"t" in fields:
                latencies.append(now - int(fields[b"t"]))
        await client.xack(key, "g", *[entry_id for entry_id, _ in entries])
        got += len(entries)
    out.put((time.time(), latencies))
    await client.aclose()


# ---- polydesk shared.streams ------------------------------------------------------------------------


def bus_produce(url: str, prefix: str, n: int, rate: float | None, started: mp.Value) -> None:  # type: ignore[type-arg]
    asyncio.run(_bus_produce(url, prefix, n, rate, started))


async def _bus_produce(url: str, prefix: str, n: int, rate: float | None, started: mp.Value) -> None:  # type: ignore[type-arg]
    client = connect(url)
    bus = Bus(client, prefix=prefix, producer="bench")
    template = sample_message()
    if rate is None:
        # Building messages is the application's work, as building the bare payload is: done before timing.
        messages = [replace(template, envelope=Envelope.new("bench")) for _ in range(n)]
        started.value = time.time()
        for start in range(0, n, BATCH):
            await bus.publish_many(Output("in", m) for m in messages[start : start + BATCH])
    else:
        for i in range(n):
            _pace(i, rate)
            await bus.publish("in", replace(template, envelope=Envelope.new("bench")))
    await client.aclose()


async def bus_consume(url: str, prefix: str, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    client = connect(url)
    bus = Bus(client, prefix=prefix, producer="bench")
    latencies: list[int] = []
    state = {"got": 0}

    async def handle(delivery: Delivery) -> list[Output]:
        latencies.append(time.time_ns() - delivery.message.envelope.created_ts_ns)
        state["got"] += 1
        if state["got"] >= n:
            consumer.stop()
        return []

    consumer = bus.consumer(
        "in",
        "g",
        "c",
        handle,
        batch_size=BATCH,
        block_ms=1000,
        trim_interval_secs=None,
        claim_interval_secs=3600,
    )
    await consumer.run()
    out.put((time.time(), latencies))
    await client.aclose()


# ---- harness ----------------------------------------------------------------------------------------


def _pace(i: int, rate: float, _t0: list[float] = []) -> None:  # noqa: B006 - per-process start time
    if not _t0:
        _t0.append(time.perf_counter())
    target = _t0[0] + i / rate
    while (delay := target - time.perf_counter()) > 0:
        time.sleep(min(delay, 0.0005) if delay > 0.001 else 0)


def _consumer_process(kind: str, url: str, key: str, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    coro = bare_consume(url, key, n, out) if kind == "bare" else bus_consume(url, key, n, out)
    asyncio.run(coro)


def _producer_process(kind: str, url: str, key: str, n: int, rate: float | None, started: mp.Value) -> None:  # type: ignore[type-arg]
    if kind == "bare":
        bare_produce(url, key, n, rate, started)
    else:
        bus_produce(url, key, n, rate, started)


def run_case(kind: str, url: str, n: int, rate: float | None) -> tuple[float, list[int]]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    key = prefix + "in"
    client = redis.Redis.from_url(url)
    client.xgroup_create(key, "g", id="$", mkstream=True)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    target = key if kind == "bare" else prefix
    consumer = mp.Process(target=_consumer_process, args=(kind, url, target, n, out))
    consumer.start()
    time.sleep(0.3)
    started = mp.Value("d", time.time())
    producer = mp.Process(target=_producer_process, args=(kind, url, target, n, rate, started))
    producer.start()
    finished, latencies = out.get(timeout=300)
    producer.join()
    consumer.join()
    for k in client.scan_iter(match=prefix + "*"):
        client.delete(k)
    client.close()
    return n / (finished - started.value), latencies


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # microseconds


THROUGHPUT_GOAL, P50_GOAL = 0.8, 1.3


def measure(
    url: str, messages: int = 50_000, rate: float = 1000.0, seconds: float = 3.0, rounds: int = 2
) -> dict[str, dict[str, float]]:
    """msgs/s and one-hop p50/p99 (us) of bare redis-py and of shared.streams, the cases interleaved and each
    kept at its best of `rounds`, so that a burst of load elsewhere on the machine hits both alike."""
    latency_n = int(rate * seconds)
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for kind in ("bare", "polydesk"):
            throughput, _ = run_case(kind, url, messages, None)
            _, latencies = run_case(kind, url, latency_n, rate)
            row = {
                "msgs_per_s": throughput,
                "p50_us": percentile(latencies, 0.5),
                "p99_us": percentile(latencies, 0.99),
            }
            if kind not in best:
                best[kind] = row
            else:
                best[kind] = {
                    "msgs_per_s": max(best[kind]["msgs_per_s"], row["msgs_per_s"]),
                    "p50_us": min(best[kind]["p50_us"], row["p50_us"]),
                    "p99_us": min(best[kind]["p99_us"], row["p99_us"]),
                }
    return best


def goals(rows: dict[str, dict[str, float]], rate: float = 1000.0) -> list[GoalResult]:
    bare, ours = rows["bare"], rows["polydesk"]
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    return [
        GoalResult.judge(
            "bus throughput vs bare redis-py",
            f"{ours['msgs_per_s']:,.0f} msgs/s",
            ours["msgs_per_s"] / bare["msgs_per_s"],
            THROUGHPUT_GOAL,
            detail=f"bare {bare['msgs_per_s']:,.0f} msgs/s in the same run; {load}",
        ),
        GoalResult.judge(
            f"bus one-hop p50 vs bare redis-py (at {rate:.0f} msgs/s)",
            f"{ours['p50_us']:.0f} us (p99 {ours['p99_us']:.0f} us)",
            ours["p50_us"] / bare["p50_us"],
            P50_GOAL,
            at_least=False,
            detail=f"bare {bare['p50_us']:.0f} us (p99 {bare['p99_us']:.0f} us) in the same run; {load}",
        ),
    ]


def run_goals(
    redis_url: str | None = None, messages: int = 50_000, rate: float = 1000.0, seconds: float = 3.0
) -> list[GoalResult]:
    """The bus goals, on the given Redis (else the default one when reachable, else an embedded one)."""
    with _redis(redis_url) as url:
        return goals(measure(url, messages, rate, seconds), rate)


@contextlib.contextmanager
def _redis(redis_url: str | None) -> Iterator[str]:
    url = redis_url or (DEFAULT_URL if is_reachable(DEFAULT_URL) else None)
    if url is not None:
        yield url
        return
    embedded = start_embedded(Path(tempfile.mkdtemp(prefix="bench-redis-")), port=0)
    try:
        yield embedded.url
    finally:
        embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s for the latency runs")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each latency run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each case, interleaved; the best counts"
    )
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with _redis(args.redis_url) as url:
        info = redis.Redis.from_url(url).info("server")
        print(
            f"machine: {platform.machine()} {mp.cpu_count()} cores, Python {platform.python_version()}, "
            f"Redis {info['redis_version']} at {url.split('@')[-1]}; load average {os.getloadavg()[0]:.1f}"
        )
        size = len(encode(sample_message())[b"data"])
        print(f"payload: BookDelta, {size} bytes of JSON (msgspec); {args.messages} messages for throughput")
        rows = measure(url, args.messages, args.rate, args.seconds, args.rounds)
        print(f"\n{'':10} {'msgs/s':>10} {'p50 us':>9} {'p99 us':>9}   (latency at {args.rate:.0f} msgs/s)")
        for kind, row in rows.items():
            print(f"{kind:10} {row['msgs_per_s']:10.0f} {row['p50_us']:9.1f} {row['p99_us']:9.1f}")
        for goal in goals(rows, args.rate):
            print(goal.line())


if __name__ == "__main__":
    main()
