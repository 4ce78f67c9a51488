"""Pipeline benchmark: tick-to-order latency through the four services, next to a bare three-hop redis-py chain.

Everything runs on this machine, in the same run, against a fresh embedded Redis:

* bare chain: 4 processes, producer -> hop1 -> hop2 -> hop3 over three streams; each hop reads
  (XREADGROUP COUNT 100 BLOCK) and writes with one MULTI{XADD next, XACK}; the payload is the very bytes of
  one of our BookDelta messages (a YES/NO price change). Latency: producer's time.time_ns() written in the
  entry -> hop3's time.time_ns() after its EXEC.
* pipeline: the paper exchange (admin API, 500 binary markets = 1,000 tokens), ingest subscribed to all of
  them (Gamma discovery), strategy running only the `bench` strategy, risk with DRY_RUN off, the executor
  signing and posting to the exchange. The exchange's bench generator (paperexchange/sim/benchmark.py) makes
  book changes at the target rate; one in `trigger_every` is a trigger the bench strategy orders on.
  The exchange records each trigger's wall ns and each order's arrival ns (when POST /order(s) enters the
  app). Join: trigger (market, venue ms timestamp) = BookDelta.market + envelope.source_ts_ns; BookDelta id =
  intent.causation_id; intent id = approved.intent_id; approved.client_order_id = fills OrderUpdate
  .client_order_id, whose order_id (hash) = the exchange's arrival record. Hops from envelopes' created_ts_ns.

All clocks are time.time_ns() of one machine, so cross-process differences are meaningful.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Self

import httpx
import orjson
import redis

from shared.messages import BookDelta, Envelope, LevelChange, Side, encode

SERVICES = ("ingest", "strategy", "risk", "executor")
MARKETS = 500
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
BATCH = 100


# ---- pure helpers (tested in tests/bench) ---------------------------------------------------------

def percentile(values: list[int] | list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of the values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered))))])


def summarize_ms(values_ns: list[int]) -> dict[str, float]:
    """p50/p99/max in milliseconds, and the count."""
    return {"n": len(values_ns), "p50": percentile(values_ns, 0.5) / 1e6, "p99": percentile(values_ns, 0.99) / 1e6,
            "max": (max(values_ns) / 1e6) if values_ns else float("nan")}


def vm_rss_kb(status_text: str) -> int | None:
    """The VmRSS line of /proc/<pid>/status, in kB."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int) -> float | None:
    try:
        kb = vm_rss_kb(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return None if kb is None else kb / 1024


def cpu_model(cpuinfo_text: str) -> str:
    for line in cpuinfo_text.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def mem_total_gb(meminfo_text: str) -> float | None:
    for line in meminfo_text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return None


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "n/a" if math.isnan(value) else f"{value:,.2f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, base: float) -> float:
    return ours / base if base and not math.isnan(base) and not math.isnan(ours) else float("nan")


def sample_delta() -> BookDelta:
    """A BookDelta as ingest publishes one for a paper-exchange price_change (both tokens of a market)."""
    return BookDelta(
        envelope=Envelope.new("ingest", source_ts_ns=time.time_ns()), market="0x" + "ab" * 32,
        changes=(LevelChange(token_id=YES, side=Side.BUY, price=Decimal("0.35"), size=Decimal(10)),
                 LevelChange(token_id=NO, side=Side.SELL, price=Decimal("0.65"), size=Decimal(10))),
        best_bid={YES: Decimal("0.45"), NO: None}, best_ask={YES: None, NO: Decimal("0.55")}, epoch=1,
    )


# ---- bare three-hop chain -------------------------------------------------------------------------

def _pace_sleep(target: float) -> None:
    while (delay := target - time.perf_counter()) > 0:
        time.sleep(min(delay, 0.0005) if delay > 0.001 else 0)


async def _bare_producer(url: str, key: str, n: int, rate: float) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    fields = encode(sample_delta())
    start = time.perf_counter()
    for i in range(n):
        target = start + i / rate
        if (delay := target - time.perf_counter()) > 0.001:
            await asyncio.sleep(delay - 0.0005)
        _pace_sleep(target)
        await client.xadd(key, {**fields, b"t": str(time.time_ns()).encode()})
    await client.aclose()


async def _bare_hop(url: str, source: str, sink: str, n: int, out: mp.Queue | None) -> None:  # type: ignore[type-arg]
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    got, latencies = 0, []
    while got < n:
        reply = await client.xreadgroup("g", "c", {source: ">"}, count=BATCH, block=1000)
        if not reply:
            continue
        entries = reply[0][1]
        pipe = client.pipeline(transaction=True)
        for _, fields in entries:
            pipe.xadd(sink, fields)
        pipe.xack(source, "g", *[entry_id for entry_id, _ in entries])
        await pipe.execute()
        if out is not None:
            now = time.time_ns()
            latencies += [now - int(fields[b"t"]) for _, fields in entries]
        got += len(entries)
    if out is not None:
        out.put(latencies)
    await client.aclose()


def _bare_process(role: str, *args) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_bare_producer(*args) if role == "producer" else _bare_hop(*args))


def bare_chain(url: str, rate: float, seconds: float) -> list[int]:
    """Latencies (ns) through the bare three-hop chain at `rate` entries/s for `seconds`."""
    prefix = f"benchbare:{uuid.uuid4().hex[:8]}:"
    keys = [prefix + name for name in ("s0", "s1", "s2", "s3")]
    client = redis.Redis.from_url(url)
    for key in keys[:3]:
        client.xgroup_create(key, "g", id="$", mkstream=True)
    n = int(rate * seconds)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    hops = [mp.Process(target=_bare_process, args=("hop", url, keys[i], keys[i + 1], n, out if i == 2 else None))
            for i in range(3)]
    for hop in hops:
        hop.start()
    time.sleep(0.5)
    producer = mp.Process(target=_bare_process, args=("producer", url, keys[0], n, rate))
    producer.start()
    latencies = out.get(timeout=seconds * 10 + 60)
    producer.join()
    for hop in hops:
        hop.join()
    client.delete(*keys)
    client.close()
    return latencies


# ---- the pipeline ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PipelineRun:
    rate: float
    seconds: float
    generated: int = 0
    generated_rate: float = 0.0
    triggers: int = 0
    orders: int = 0
    joined: int = 0
    drain_secs: float = 0.0
    events_published: int = 0
    hops: dict[str, list[int]] = field(default_factory=dict)
    e2e: list[int] = field(default_factory=list)


class Pipeline:
    """Redis, the paper exchange and the four services for one benchmark session."""

    def __init__(self, redis_url: str, workdir: Path, markets: int = MARKETS) -> None:
        self.redis_url, self.workdir, self.n_markets = redis_url, workdir, markets
        self.prefix = f"bench{uuid.uuid4().hex[:6]}:"
        self.exchange = None
        self.processes: dict[str, subprocess.Popen] = {}  # type: ignore[type-arg]
        self.markets: list[dict] = []
        self.redis = redis.Redis.from_url(redis_url)

    def __enter__(self) -> Self:
        from eth_account import Account

        from paperexchange.server import PaperExchangeProcess

        self.exchange = PaperExchangeProcess("--admin", "--scenario", "none", "--no-default-markets",
                                             "--settlement-delay-secs", "1")
        self.exchange.__enter__()
        url = self.exchange.url
        with httpx.Client(base_url=url + "/_paper", timeout=30) as admin:
            for i in range(self.n_markets):
                self.markets.append(admin.post("/markets", json={
                    "question": f"bench market {i}", "min_order_size": 5, "tick_size": "0.01"}).json())
            account = Account.create()
            key_file = self.workdir / "executor.key"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(account.key.hex())
            admin.post("/fund", json={"address": account.address, "collateral": "10000000", "tokens": {},
                                      "approve": True}).raise_for_status()
        ws = url.replace("http://", "ws://", 1)
        env = {**os.environ,
               "POLYDESK_CLOB_URL": url, "POLYDESK_MARKET_WS_URL": f"{ws}/ws/market", "POLYDESK_USER_WS_URL": ws,
               "POLYDESK_GAMMA_URL": f"{url}/gamma", "POLYDESK_DATA_API_URL": f"{url}/data-api",
               "POLYDESK_RPC_URL": f"{url}/rpc", "POLYDESK_PRIVATE_KEY_FILE": str(key_file),
               "POLYDESK_WALLET_ADDRESS": account.address, "POLYDESK_ACCOUNT_WALLET": account.address,
               "POLYDESK_RECONCILE_WALLET_ADDRESS": account.address,
               "POLYDESK_REDIS_URL": self.redis_url, "POLYDESK_STREAM_PREFIX": self.prefix,
               "POLYDESK_STATE_DIR": str(self.workdir / "state"), "POLYDESK_LOG_DIR": str(self.workdir / "logs"),
               "POLYDESK_LOG_LEVEL": "WARNING", "POLYDESK_DRY_RUN": "false", "POLYDESK_STRATEGIES": "bench",
               "POLYDESK_DISCOVERY_MAX_MARKETS": str(max(1000, self.n_markets)),
               "POLYDESK_DISCOVERY_PAGE_SIZE": "500",
               "POLYDESK_MIN_LIQUIDITY_USD": "0", "POLYDESK_MIN_TIME_TO_RESOLUTION_SECS": '{"default": 0}',
               "POLYDESK_DEDUP_WINDOW_SECS": "1", "POLYDESK_MAX_PER_MARKET_NOTIONAL_USD": "1000000",
               "POLYDESK_MAX_DAILY_LOSS_USD": "1000000", "POLYDESK_MAX_TRADE_SIZE_USD": "1000"}
        for name in ("POLYDESK_WATCHED_WALLETS", "POLYDESK_COPY_WALLETS", "POLYDESK_STRATEGY_SHARD"):
            env.pop(name, None)
        (self.workdir / "logs").mkdir(exist_ok=True)
        for name in SERVICES:
            log = open(self.workdir / f"{name}.log", "ab")
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], stdout=log, stderr=log, start_new_session=True,
                env={**env, "POLYDESK_INSTANCE": f"bench-{name}", "POLYDESK_METRICS_PORT": str(_free_port())})
            log.close()
        return self

    def __exit__(self, *exc_info) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.exchange is not None:
            self.exchange.__exit__()
        with contextlib.suppress(Exception):
            keys = list(self.redis.scan_iter(match=self.prefix + "*", count=1000))
            for start in range(0, len(keys), 500):
                self.redis.delete(*keys[start:start + 500])
        self.redis.close()

    # ---- helpers ------------------------------------------------------------------------------------
    def _entries(self, pattern: str, since_ms: int) -> list[tuple[bytes, dict]]:
        rows = []
        for key in self.redis.scan_iter(match=self.prefix + pattern, count=1000):
            if key.endswith(b":dead"):
                continue
            for entry_id, fields in self.redis.xrange(key, min=f"{since_ms}-0"):
                if b"data" in fields:
                    rows.append((fields[b"type"], orjson.loads(fields[b"data"])))
        return rows

    def alive(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}

    def wait_ready(self, timeout: float = 90.0) -> int:
        """Until ingest has published a snapshot of every token; returns that count."""
        deadline = time.monotonic() + timeout
        want = 2 * self.n_markets
        snapshots = 0
        while time.monotonic() < deadline:
            if dead := self.alive():
                raise RuntimeError(f"service(s) exited: {dead}; see {self.workdir}/*.log")
            snapshots = len({d["token_id"] for kind, d in self._entries("events:*", 0) if kind == b"book_snapshot"})
            if snapshots >= want:
                return snapshots
            time.sleep(0.5)
        raise RuntimeError(f"ingest published {snapshots} of {want} snapshots in {timeout:.0f}s")

    def run(self, rate: float, seconds: float, trigger_every: int, drain_timeout: float = 30.0) -> PipelineRun:
        """One generator run; waits for the orders to drain, then joins the records."""
        url = self.exchange.url + "/_paper"  # type: ignore[union-attr]
        result = PipelineRun(rate, seconds)
        since_ms = int(time.time() * 1000)
        with httpx.Client(base_url=url, timeout=60) as admin:
            admin.post("/bench/reset").raise_for_status()
            admin.post("/bench/start", json={
                "markets": [m["condition_id"] for m in self.markets], "rate": rate, "seconds": seconds,
                "trigger_every": trigger_every}).raise_for_status()
            time.sleep(seconds)
            while admin.get("/bench/status").json()["running"]:
                time.sleep(0.2)
            ended = time.monotonic()
            last, stable_since = -1, time.monotonic()
            while time.monotonic() - ended < drain_timeout:
                status = admin.get("/bench/status").json()
                if status["arrivals"] != last:
                    last, stable_since = status["arrivals"], time.monotonic()
                elif status["arrivals"] >= status["triggers"] or time.monotonic() - stable_since > 3:
                    break
                time.sleep(0.2)
            result.drain_secs = max(0.0, stable_since - ended)
            record = admin.get("/bench/record").json()
        result.generated, result.generated_rate = record["changes"], record["rate"]
        result.triggers, result.orders = len(record["trigger_ns"]), len(record["arrival_ns"])
        self._join(result, record, since_ms)
        return result

    def _join(self, result: PipelineRun, record: dict, since_ms: int) -> None:
        deltas: dict[str, dict] = {}
        published = 0
        for kind, data in self._entries("events:*", since_ms):
            if kind == b"book_delta":
                published += 1
                deltas[data["envelope"]["message_id"]] = data
        result.events_published = published
        intents = {d["envelope"]["message_id"]: d for k, d in self._entries("intents", since_ms)
                   if k == b"order_intent"}
        approved = [d for k, d in self._entries("approved_orders", since_ms) if k == b"approved_order"]
        hashes = {d["client_order_id"]: d["order_id"] for k, d in self._entries("fills", since_ms)
                  if k == b"order_update" and d.get("order_id") and d.get("client_order_id")}
        hops: dict[str, list[int]] = {"exchange -> ingest (book change to BookDelta built)": [],
                                      "ingest -> strategy (to OrderIntent built)": [],
                                      "strategy -> risk (to ApprovedOrder built)": [],
                                      "risk -> executor -> exchange (to order arrival)": []}
        names = list(hops)
        for order in approved:
            if order.get("strategy") != "bench":
                continue
            intent = intents.get(order["intent_id"])
            delta = deltas.get(intent["envelope"]["causation_id"]) if intent else None
            order_hash = hashes.get(order["client_order_id"])
            if delta is None or order_hash is None:
                continue
            change_ns = record["trigger_ns"].get(f"{delta['market']}|{delta['envelope']['source_ts_ns'] // 1_000_000}")
            arrival = record["arrival_ns"].get(order_hash)
            if change_ns is None or arrival is None:
                continue
            stamps = [change_ns, delta["envelope"]["created_ts_ns"], intent["envelope"]["created_ts_ns"],  # type: ignore[index]
                      order["envelope"]["created_ts_ns"], arrival[0]]
            for name, (a, b) in zip(names, itertools.pairwise(stamps), strict=True):
                hops[name].append(b - a)
            result.e2e.append(arrival[0] - change_ns)
        result.hops, result.joined = hops, len(result.e2e)


# ---- ingest and exchange parts ----------------------------------------------------------------------

def ingest_rates(frames: int = 5000, levels: int = 20) -> dict[str, float]:
    """Diffs/s of decode + apply (hash checked on every change, the service default) vs parse-only."""
    from pydantic_core import from_json

    from bench.ingest import _Tape, _timed
    from services.ingest.book import BookSet

    tape = _Tape(levels, seed=7)
    snapshot = tape.snapshot()
    tape_frames = [tape.change(str(2 + i)) for i in range(frames)]
    diffs = 2 * len(tape_frames)

    def apply() -> None:
        books = BookSet(hash_check_every=1)
        books.feed(snapshot)
        for frame in tape_frames:
            books.feed(frame)

    def parse() -> None:
        for frame in tape_frames:
            from_json(frame)

    return {"apply": diffs / min(_timed(apply) for _ in range(3)),
            "parse": diffs / min(_timed(parse) for _ in range(3))}


def exchange_rates(orders: int = 2000, events: int = 4000) -> dict[str, float]:
    from bench import exchange as ex
    from paperexchange.server import PaperExchangeProcess

    with PaperExchangeProcess("--admin", "--settlement-delay-secs", "1") as server:
        signed, client, sign_rate = ex.sign_orders(server.url, orders)
        bodies = [ex.order_body(order, client._ctx.credentials.key) for order in signed]
        posts, failures = asyncio.run(ex.post_all(server.url, bodies, ex.l2_headers(client)))
        client.close()
        fanout = asyncio.run(ex.exchange_events(server.url, events))
    with ex.BaselineProcess() as baseline:
        bare_posts, _ = asyncio.run(ex.post_all(baseline.url, bodies, lambda body: {}))
        bare_fanout = asyncio.run(ex.baseline_events(baseline.url, events))
    return {"sign": sign_rate, "posts": posts, "failures": failures, "bare_posts": bare_posts,
            "fanout": fanout, "bare_fanout": bare_fanout}


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="polydesk-bench-"))
