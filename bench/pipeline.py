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
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Self

import httpx
import orjson
import redis

from bench.feed import Feed
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


HOPS = ("feed -> ingest (price_change sent to BookDelta built)", "ingest -> strategy (to OrderIntent built)",
        "strategy -> risk (to ApprovedOrder built)", "risk -> executor (to the POST handed to the HTTP client)",
        "POST -> exchange (to its arrival at the exchange)")


@dataclass
class PipelineRun:
    rate: float
    seconds: float
    generated: int = 0
    generated_rate: float = 0.0
    triggers: int = 0
    orders: int = 0
    joined: int = 0
    drain_secs: float = float("nan")
    events_published: int = 0
    build_secs: float = 0.0
    hops: dict[str, list[int]] = field(default_factory=dict)
    to_post: list[int] = field(default_factory=list)  # tick -> the executor's POST
    e2e: list[int] = field(default_factory=list)  # tick -> arrival at the exchange
    backlog: list[tuple[float, float, int]] = field(default_factory=list)  # (secs into the run, lag ms, pending)
    redis_forks: int = 0  # Redis forks (AOF rewrites) from the run's start to its drain


def service_env(url: str, redis_url: str, prefix: str, workdir: Path, key_file: Path, address: str,
                markets: int) -> dict[str, str]:
    """The four services' settings for a bench against the paper exchange at `url` (Redis, URLs, limits)."""
    ws = url.replace("http://", "ws://", 1)
    env = {**os.environ,
           "POLYDESK_CLOB_URL": url, "POLYDESK_MARKET_WS_URL": f"{ws}/ws/market", "POLYDESK_USER_WS_URL": ws,
           "POLYDESK_GAMMA_URL": f"{url}/gamma", "POLYDESK_DATA_API_URL": f"{url}/data-api",
           "POLYDESK_RPC_URL": f"{url}/rpc", "POLYDESK_PRIVATE_KEY_FILE": str(key_file),
           "POLYDESK_WALLET_ADDRESS": address, "POLYDESK_ACCOUNT_WALLET": address,
           "POLYDESK_RECONCILE_WALLET_ADDRESS": address,
           "POLYDESK_REDIS_URL": redis_url, "POLYDESK_STREAM_PREFIX": prefix,
           "POLYDESK_STATE_DIR": str(workdir / "state"), "POLYDESK_LOG_DIR": str(workdir / "logs"),
           "POLYDESK_LOG_LEVEL": "WARNING", "POLYDESK_DRY_RUN": "false", "POLYDESK_STRATEGIES": "bench",
           "POLYDESK_DISCOVERY_MAX_MARKETS": str(max(1000, markets)), "POLYDESK_DISCOVERY_PAGE_SIZE": "500",
           "POLYDESK_MIN_LIQUIDITY_USD": "0", "POLYDESK_MIN_TIME_TO_RESOLUTION_SECS": '{"default": 0}',
           "POLYDESK_DEDUP_WINDOW_SECS": "1", "POLYDESK_MAX_PER_MARKET_NOTIONAL_USD": "1000000",
           "POLYDESK_MAX_DAILY_LOSS_USD": "1000000", "POLYDESK_MAX_TRADE_SIZE_USD": "1000"}
    for name in ("POLYDESK_WATCHED_WALLETS", "POLYDESK_COPY_WALLETS", "POLYDESK_STRATEGY_SHARD"):
        env.pop(name, None)
    return env


def funded_key(admin: httpx.Client, workdir: Path) -> tuple[Path, str]:
    """A new wallet funded on the paper exchange; (its key file, its address)."""
    from eth_account import Account

    account = Account.create()
    key_file = workdir / f"key-{account.address[:10]}"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(account.key.hex())
    admin.post("/fund", json={"address": account.address, "collateral": "10000000", "tokens": {},
                              "approve": True}).raise_for_status()
    return key_file, account.address


def start_service(name: str, env: dict[str, str], workdir: Path, profile: Path | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
    """`python -m services.<name>`, under py-spy (raw collapsed stacks to `profile`) when asked."""
    command = [sys.executable, "-m", f"services.{name}"]
    if profile is not None:
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "--rate", "250",
                   "--output", str(profile), "--", *command]
    with open(workdir / f"{name}.log", "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True,
                                env={**env, "POLYDESK_INSTANCE": f"bench-{name}",
                                     "POLYDESK_METRICS_PORT": str(_free_port())})


def stop_processes(processes: list[subprocess.Popen]) -> None:  # type: ignore[type-arg]
    """SIGINT (py-spy writes its profile and ends its child on it; the services stop cleanly), then wait."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


class Pipeline:
    """Redis, the paper exchange, the feed process and the four services for one benchmark session.

    Ingest reads the market channel from the feed (bench/feed.py) and everything else (Gamma discovery,
    REST) from the paper exchange; the executor posts to the paper exchange. Ingest's freshness probes
    are pushed out of the runs (the feed's books are not the exchange's, so a probe would call every
    quiet token frozen)."""

    def __init__(self, redis_url: str, workdir: Path, markets: int = MARKETS) -> None:
        self.redis_url, self.workdir, self.n_markets = redis_url, workdir, markets
        self.prefix = f"bench{uuid.uuid4().hex[:6]}:"
        self.exchange = None
        self.feed: Feed | None = None
        self.processes: dict[str, subprocess.Popen] = {}  # type: ignore[type-arg]
        self.markets: list[dict] = []
        self.redis = redis.Redis.from_url(redis_url)
        self.env: dict[str, str] = {}

    def __enter__(self) -> Self:
        from paperexchange.server import PaperExchangeProcess

        self.exchange = PaperExchangeProcess("--admin", "--scenario", "none", "--no-default-markets",
                                             "--settlement-delay-secs", "1")
        self.exchange.__enter__()
        url = self.exchange.url
        with httpx.Client(base_url=url + "/_paper", timeout=30) as admin:
            for i in range(self.n_markets):
                self.markets.append(admin.post("/markets", json={
                    "question": f"bench market {i}", "min_order_size": 5, "tick_size": "0.01"}).json())
            key_file, address = funded_key(admin, self.workdir)
            # Arrival stamps on POST /order(s) without the exchange's own generator: a zero-length start.
            admin.post("/bench/start", json={"markets": [self.markets[0]["condition_id"]], "rate": 1,
                                             "seconds": 0}).raise_for_status()
        self.feed = Feed(self.markets)
        env = service_env(url, self.redis_url, self.prefix, self.workdir, key_file, address, self.n_markets)
        env.update({"POLYDESK_MARKET_WS_URL": self.feed.url + "/ws/market", "POLYDESK_FRESHNESS_FLOOR_SECS": "3600",
                    "POLYDESK_BOOK_STALE_AFTER_SECS": "3600"})
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.env = env
        for name in SERVICES:
            self.processes[name] = start_service(name, env, self.workdir)
        return self

    def __exit__(self, *exc_info) -> None:
        stop_processes(list(self.processes.values()))
        if self.feed is not None:
            self.feed.close()
        if self.exchange is not None:
            self.exchange.__exit__()
        with contextlib.suppress(Exception):
            keys = list(self.redis.scan_iter(match=self.prefix + "*", count=1000))
            for start in range(0, len(keys), 500):
                self.redis.delete(*keys[start:start + 500])
        self.redis.close()

    def restart(self, name: str, profile: Path | None = None) -> None:
        """Stop one service and start it again (under py-spy when `profile` is given)."""
        self.stop_service(name)
        self.processes[name] = start_service(name, self.env, self.workdir, profile)

    def stop_service(self, name: str) -> None:
        stop_processes([self.processes[name]])

    # ---- helpers ------------------------------------------------------------------------------------
    def _keys(self, pattern: str) -> list[bytes]:
        return [k for k in self.redis.scan_iter(match=self.prefix + pattern, count=1000)
                if not k.endswith(b":dead") and self.redis.type(k) == b"stream"]

    def _entries(self, pattern: str, since_ms: int, kinds: tuple[bytes, ...]) -> list[tuple[bytes, dict]]:
        rows = []
        for key in self._keys(pattern):
            for _, fields in self.redis.xrange(key, min=f"{since_ms}-0"):
                if fields.get(b"type") in kinds and b"data" in fields:
                    rows.append((fields[b"type"], orjson.loads(fields[b"data"])))
        return rows

    def _created_ns(self, pattern: str, since_ms: int, wanted: set[str]) -> tuple[dict[str, int], int]:
        """created_ts_ns of the wanted message ids among a big stream's entries, read in pages without decoding
        the others; and how many book deltas were read."""
        found: dict[str, int] = {}
        deltas = 0
        for key in self._keys(pattern):
            start = f"{since_ms}-0"
            while True:
                page = self.redis.xrange(key, min=start, count=5000)
                for _, fields in page:
                    if fields.get(b"type") != b"book_delta":
                        continue
                    deltas += 1
                    data = fields[b"data"]
                    at = data.find(b'"message_id":"') + 14
                    if data[at:at + 32].decode() in wanted:
                        found[data[at:at + 32].decode()] = orjson.loads(data)["envelope"]["created_ts_ns"]
                if len(page) < 5000:
                    break
                last = page[-1][0].decode()
                ms, seq = last.split("-")
                start = f"{ms}-{int(seq) + 1}"
        return found, deltas

    def backlog(self) -> tuple[float, int]:
        """(how far the slowest group reading an events stream is behind its newest entry, in ms; entries read
        but not acknowledged). Both 0: every book change published so far is handled."""
        lag_ms, pending = 0.0, 0
        for key in self._keys("events:*"):
            last = self.redis.xinfo_stream(key)["last-generated-id"]
            newest = int(last.split(b"-")[0])
            for group in self.redis.xinfo_groups(key):
                pending += group["pending"]
                if group["last-delivered-id"] != last:
                    delivered = int(group["last-delivered-id"].split(b"-")[0])
                    lag_ms = max(lag_ms, float(newest - delivered), 0.001)
        return lag_ms, pending

    def alive(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def pids(self) -> dict[str, int]:
        """The services' own pids (py-spy's child when one runs under it)."""
        pids = {}
        for name, p in self.processes.items():
            pids[name] = p.pid
            with contextlib.suppress(OSError, ValueError, IndexError):
                if "py-spy" in Path(f"/proc/{p.pid}/cmdline").read_text():
                    pids[name] = int(Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()[0])
        return pids

    def wait_ready(self, timeout: float = 120.0) -> int:
        """Until ingest has published a snapshot of every token; returns that count."""
        deadline = time.monotonic() + timeout
        want = 2 * self.n_markets
        snapshots = 0
        while time.monotonic() < deadline:
            if dead := self.alive():
                raise RuntimeError(f"service(s) exited: {dead}; see {self.workdir}/*.log")
            snapshots = len({d["token_id"] for _, d in self._entries("events:*", 0, (b"book_snapshot",))})
            if snapshots >= want:
                return snapshots
            time.sleep(0.5)
        raise RuntimeError(f"ingest published {snapshots} of {want} snapshots in {timeout:.0f}s")

    def run(self, rate: float, seconds: float, trigger_every: int, drain_timeout: float = 60.0) -> PipelineRun:
        """One feed run; samples the backlog meanwhile, waits for the pipeline to drain, joins the records."""
        assert self.feed is not None and self.exchange is not None
        result = PipelineRun(rate, seconds)
        since_ms = int(time.time() * 1000)
        forks = self._forks()
        admin = httpx.Client(base_url=self.exchange.url + "/_paper", timeout=60)
        admin.post("/bench/reset").raise_for_status()
        done: dict = {}
        runner = threading.Thread(target=lambda: done.update(self.feed.run(rate, seconds, trigger_every)))  # type: ignore[union-attr]
        runner.start()
        began = time.monotonic()
        while runner.is_alive():
            runner.join(timeout=1.0)
            result.backlog.append((time.monotonic() - began, *self.backlog()))
        ended_ns = done["ended_ns"]
        triggers = len(done["trigger_ns"])
        while time.time_ns() - ended_ns < drain_timeout * 1e9:
            if self.backlog() == (0.0, 0) and admin.get("/bench/status").json()["arrivals"] >= triggers:
                break
            time.sleep(0.02)
        caught_up_ns = time.time_ns()
        result.redis_forks = self._forks() - forks
        record = admin.get("/bench/record").json()
        admin.close()
        result.drain_secs = max(0.0, (caught_up_ns - ended_ns) / 1e9)
        result.generated, result.generated_rate, result.build_secs = done["changes"], done["rate"], done["build_secs"]
        result.triggers, result.orders = triggers, len(record["arrival_ns"])
        self._join(result, done["trigger_ns"], record["arrival_ns"], since_ms)
        for key in self._keys("events:*"):  # the run's book deltas are read: free Redis for the next run
            self.redis.xtrim(key, maxlen=0, approximate=False)
        return result

    def _forks(self) -> int:
        """Redis's fork count so far: each is an AOF rewrite (the bench's Redis saves no RDB), which rewrites the
        whole retained dataset in a child while the pipeline runs."""
        return int(self.redis.info("stats").get("total_forks", 0))

    def _posted_ns(self) -> dict[str, int]:
        posted: dict[str, int] = {}
        for path in sorted((self.workdir / "logs").glob("events-*.jsonl")):
            with open(path, "rb") as handle:
                for line in handle:
                    if b'"order_submitted"' in line:
                        event = orjson.loads(line)
                        if event.get("posted_ns"):
                            posted[event["order_hash"]] = event["posted_ns"]
        return posted

    def _join(self, result: PipelineRun, trigger_ns: dict[str, int], arrivals: dict[str, list[int]],
              since_ms: int) -> None:
        intents = {d["envelope"]["message_id"]: d for _, d in self._entries("intents", since_ms, (b"order_intent",))}
        approved = [d for _, d in self._entries("approved_orders", since_ms, (b"approved_order",))]
        hashes = {d["client_order_id"]: d["order_id"] for _, d in self._entries("fills", since_ms, (b"order_update",))
                  if d.get("order_id") and d.get("client_order_id")}
        posted = self._posted_ns()
        delta_ids = {i["envelope"]["causation_id"] for i in intents.values()}
        delta_created, result.events_published = self._created_ns("events:*", since_ms, delta_ids)
        hops: dict[str, list[int]] = {name: [] for name in HOPS}
        for order in approved:
            intent = intents.get(order["intent_id"])
            if order.get("strategy") != "bench" or intent is None:
                continue
            change_ns = trigger_ns.get(f"{intent['market']}|{intent['envelope']['source_ts_ns'] // 1_000_000}")
            created = delta_created.get(intent["envelope"]["causation_id"])
            order_hash = hashes.get(order["client_order_id"])
            if change_ns is None or created is None or order_hash is None:
                continue
            post, arrival = posted.get(order_hash), arrivals.get(order_hash)
            if post is None or arrival is None:
                continue
            stamps = [change_ns, created, intent["envelope"]["created_ts_ns"], order["envelope"]["created_ts_ns"],
                      post, arrival[0]]
            for name, (a, b) in zip(HOPS, itertools.pairwise(stamps), strict=True):
                hops[name].append(b - a)
            result.to_post.append(post - change_ns)
            result.e2e.append(arrival[0] - change_ns)
        result.hops, result.joined = hops, len(result.e2e)


# ---- ingest and exchange parts ----------------------------------------------------------------------

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
