"""The chaos run: a paper run under `Supervisor` while services (and Redis) are SIGKILLed at random and at
aimed points, the venue misbehaves, and poison is fed to the pipeline.

    Redis (embedded, AOF everysec, free port, data under tmp)
    paper exchange (scenarios/chaos.yaml, high --speed, a funded wallet)   <- polydesk.paper_mode
    ingest, strategy, risk, executor, each under its own Supervisor        <- the env of polydesk.up.child_env

Chaos phase: until `events` entries were written to `events:<shard>`, SIGKILL a random running service
at random event counts (`service_kills` times) and Redis (`redis_kills` times: SIGKILL, pause, restart on
the same port and data dir); SIGKILL the executor at each aimed point (`aimed_kills`: after sign, after
save, after post, before ack; shared/crashpoints.py, armed through POLYDESK_CRASH_POINTS_DIR); switch on
the exchange's faults (a 429 answered *after* the order was applied, for longer than the executor's retry
budget; a 502 after apply; a connection dropped after apply); write poison to the events stream (a book
with tick size 0, an order intent on the wrong stream) just before a strategy kill, so it is met live and
again by the rebuild at restart; and optionally SIGSTOP the executor past the claim idle time. Market
making runs beside copy trading and arbitrage, so our own orders cross each other. Then the quiet phase stops the pipeline front to back, each stage only after its input
stream is drained (no lag, nothing pending): ingest, then strategy; risk and the executor once every
approval was finished in the executor's store and every exchange trade of our wallet is settled and shows
up in `fills`. The executor's graceful stop cancels its open orders. `collect()` then reads every record
the audit needs, including risk's ledger beside the exchange's balances (polydesk.positions.report).

One Supervisor per service, so the stages can be stopped one by one; the restart behaviour is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polydesk.paper_mode import PaperVenue, start_paper_exchange
from polydesk.positions import read_ledger, report
from polydesk.settings import SERVICES
from polydesk.supervisor import Supervisor
from polydesk.up import child_env
from services.risk.reconcile import read_venue
from shared.ledger_store import SqliteLedgerStore, open_readonly
from shared.logging import EventLog, read_events
from shared.redis_conn import EmbeddedRedis, connect, free_port, start_embedded
from shared.messages import CancelAllRequested, Envelope
from shared.streams import APPROVED_ORDERS, CONTROL, FILLS, INTENTS, Bus
from tests.chaos.audit import Records
from tests.chaos.mischief import (
    AIMED_POINTS,
    FAULTS,
    POST_ATTEMPTS,
    Mischief,
    approvals_finished,
    executor_approvals,
    executor_orders,
)

log = logging.getLogger("chaos")

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "paperexchange" / "sim" / "scenarios" / "chaos.yaml"
PREFIX = "polydesk:"
DECISIONS = "decisions"
RISK_GROUP = "risk"
ALL_STREAMS = (INTENTS, APPROVED_ORDERS, FILLS, "control", "signals", DECISIONS)


@dataclass
class ChaosConfig:
    events: int = 1500  # run the chaos phase until this many entries were written to events:<shard>
    service_kills: int = 5
    redis_kills: int = 1
    aimed_kills: tuple[str, ...] = AIMED_POINTS  # executor points, each SIGKILLed once
    faults: tuple[dict[str, Any], ...] = FAULTS
    poison: bool = True
    pause_executor: bool = False  # SIGSTOP the executor past the claim idle time, once
    claim_min_idle_ms: int = 3000
    speed: float = 8.0  # simulated seconds of scenario flow per second
    seed: int = 1
    redis_down_secs: float = 1.5
    min_kill_gap_secs: float = 1.0
    chaos_timeout_secs: float = 240.0  # the chaos phase ends here even short of `events`
    settle_timeout_secs: float = 120.0  # per quiet-phase stage
    # Each settlement step (MATCHED -> MINED -> CONFIRMED) this long: shares still arrive only at MINED, as
    # on chain, but a trade matched in the last second settles within the quiet phase (live-like timings
    # take 80 s per trade, more than a loaded machine leaves the quiet phase).
    settlement_step_secs: float = 2.0
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class ChaosRun:
    records: Records
    elapsed_secs: float
    restarts: dict[str, int]
    exit_codes: dict[str, int | None]
    notes: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def _base_env(tmp: Path, config: ChaosConfig) -> dict[str, str]:
    """Settings for every service: nothing of the caller's POLYDESK_*; state and logs under tmp."""
    for key in [k for k in os.environ if k.startswith("POLYDESK_")]:
        os.environ.pop(key)  # child_env starts from os.environ: the test process must not leak settings
    return {
        "POLYDESK_STATE_DIR": str(tmp / "state"), "POLYDESK_LOG_DIR": str(tmp / "logs"),
        "POLYDESK_STREAM_PREFIX": PREFIX, "POLYDESK_STREAM_RETAIN_SECS": "86400",
        # A killed consumer's entries are reclaimed sooner than the production 30 s, so the run settles.
        "POLYDESK_CLAIM_MIN_IDLE_MS": str(config.claim_min_idle_ms),
        "POLYDESK_SHUTDOWN_GRACE_SECS": "20",
        "POLYDESK_CRASH_POINTS_DIR": str(tmp / "crash"),
        # Market making beside copy trading and arbitrage: our own strategies' orders cross each other.
        "POLYDESK_STRATEGIES": "copy,arbitrage,market_making", "POLYDESK_MM_REQUOTE_INTERVAL_SECS": "2",
        "POLYDESK_ALLOW_SELF_TRADE": "true",
        # The executor's retry budget is short and its grace for an order absent by hash too, so refusals
        # outlast it and re-posts of the same signed order happen within the run.
        "POLYDESK_POST_ATTEMPTS": str(POST_ATTEMPTS), "POLYDESK_UNKNOWN_GRACE_SECS": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **config.extra_env,
    }


class Chaos(Mischief):
    def __init__(self, tmp: Path, config: ChaosConfig) -> None:
        self.tmp = tmp
        self.config = config
        self.rng = random.Random(config.seed)
        self.redis: EmbeddedRedis | None = None
        self.redis_port = free_port()
        self.paper: PaperVenue | None = None
        self.supervisors: dict[str, Supervisor] = {}
        self.kills: dict[str, int] = {}
        self.aimed: dict[str, int] = {}  # point -> executor SIGKILLs there
        self.armed: dict[str, Path] = {}  # points written to a crash file, not reached yet
        self.faults: list[dict[str, Any]] = []
        self.poisoned: list[tuple[str, str]] = []  # (stream, entry id)
        self.pauses: dict[str, int] = {}
        self.timings: dict[str, float] = {}  # phase -> seconds
        self.notes: list[str] = []
        self.events_log: EventLog | None = None

    # ---- setup -----------------------------------------------------------------------------------------

    def _start_redis(self) -> None:
        self.redis = start_embedded(self.tmp / "redis", self.redis_port)

    async def start(self) -> None:
        self._start_redis()
        (self.tmp / "logs" / "services").mkdir(parents=True, exist_ok=True)
        env = _base_env(self.tmp, self.config)
        os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})  # paper env reads os.environ
        self.paper = start_paper_exchange(
            self.tmp / "state", port=0, scenario=str(SCENARIO), seed=self.config.seed, speed=self.config.speed,
            collateral_usd="100000", log_path=self.tmp / "logs" / "services" / "paper-exchange.log",
            settlement_delay_secs=self.config.settlement_step_secs)
        extra = {**env, **self.paper.env()}
        self.events_log = EventLog(self.tmp / "logs", "chaos")
        assert self.redis is not None
        for name in SERVICES:
            supervisor = Supervisor(self.events_log, backoff_base_secs=0.3, backoff_max_secs=3.0,
                                    reset_after_secs=20.0)
            supervisor.add_service(name, child_env(self.redis.url, f"chaos-{name}", extra, free_port()))
            self.supervisors[name] = supervisor
        for supervisor in self.supervisors.values():
            await supervisor.start(log_dir=self.tmp / "logs" / "services")

    # ---- Redis helpers that survive the outage ----------------------------------------------------------

    async def _bus(self) -> tuple[Any, Bus]:
        assert self.redis is not None
        client = connect(self.redis.url)
        return client, Bus(client, prefix=PREFIX, producer="chaos")

    async def event_count(self, bus: Bus) -> int:
        keys = [k.decode() async for k in bus.redis.scan_iter(match=f"{PREFIX}events:*", count=1000)]
        total = 0
        for key in keys:
            if not key.endswith(":dead"):
                total += await bus.redis.xlen(key)
        return total

    # ---- chaos phase ------------------------------------------------------------------------------------

    def _running(self) -> list[str]:
        out = []
        for name, supervisor in self.supervisors.items():
            process = supervisor.children[name].process
            if process is not None and process.returncode is None:
                out.append(name)
        return out

    def _plan(self, target: int) -> list[tuple[float, str, Any]]:
        """(event count, what, detail): kills at random counts, aimed kills, faults, poison, the pause."""
        c, rng = self.config, self.rng
        plan: list[tuple[float, str, Any]] = [(rng.uniform(0.05, 0.9) * target, "service", None)
                                              for _ in range(c.service_kills)]
        plan += [(rng.uniform(0.3, 0.7) * target, "redis", None) for _ in range(c.redis_kills)]
        plan += [(rng.uniform(0.1, 0.85) * target, "aimed", point) for point in c.aimed_kills]
        plan += [(rng.uniform(0.1, 0.8) * target, "fault", body) for body in c.faults]
        if c.poison:
            plan.append((rng.uniform(0.2, 0.6) * target, "poison", None))
        if c.pause_executor:
            plan.append((rng.uniform(0.3, 0.8) * target, "pause", None))
        plan.sort(key=lambda item: item[0])
        return plan

    async def chaos(self) -> int:
        target = self.config.events
        plan = self._plan(target)
        client, bus = await self._bus()
        deadline = time.monotonic() + self.config.chaos_timeout_secs
        count, last_kill = 0, 0.0
        try:
            while time.monotonic() < deadline:
                try:
                    count = await self.event_count(bus)
                except Exception as error:  # noqa: BLE001 - Redis is down or restarting
                    log.info("event count unavailable: %s", error)
                    await asyncio.sleep(0.3)
                    continue
                if plan and count >= plan[0][0] and time.monotonic() - last_kill >= self.config.min_kill_gap_secs:
                    _, what, detail = plan[0]
                    if what == "redis":
                        plan.pop(0)
                        await self.kill_redis()
                        last_kill = time.monotonic()
                        await client.aclose()
                        client, bus = await self._bus()
                        continue
                    if what == "fault":
                        plan.pop(0)
                        await asyncio.to_thread(self.fault, detail)
                        continue
                    if what == "aimed":
                        plan.pop(0)
                        self.aim("executor", detail)
                        last_kill = time.monotonic()
                        continue
                    if what == "pause" and "executor" in self._running():
                        plan.pop(0)
                        await self.pause("executor")
                        last_kill = time.monotonic()
                        continue
                    if what == "poison" and "strategy" in self._running():
                        plan.pop(0)
                        await self.poison(bus)
                        self._kill("strategy", count)  # so the rebuild at restart meets the poison too
                        last_kill = time.monotonic()
                        continue
                    running = self._running()
                    if what == "service" and running:
                        plan.pop(0)
                        self._kill(self.rng.choice(running), count)
                        last_kill = time.monotonic()
                self._check_aimed()
                if count >= target and not plan and not self.armed:
                    break
                await asyncio.sleep(0.1 + self.rng.random() * 0.2)
            else:
                self.notes.append(f"chaos phase timed out at {count} events with {len(plan)} actions not done")
            for point in self.armed:
                self.notes.append(f"aimed kill of the executor at {point}: the point was never reached")
        finally:
            await client.aclose()
        return count

    def _kill(self, victim: str, count: int) -> None:
        self.supervisors[victim].kill(victim, signal.SIGKILL)
        self.kills[victim] = self.kills.get(victim, 0) + 1
        log.warning("chaos: SIGKILL %s at %d events", victim, count)

    async def kill_redis(self) -> None:
        assert self.redis is not None
        self.redis.process.send_signal(signal.SIGKILL)
        self.redis.process.wait()
        self.kills["redis"] = self.kills.get("redis", 0) + 1
        log.warning("chaos: SIGKILL redis; restarting in %.1fs", self.config.redis_down_secs)
        await asyncio.sleep(self.config.redis_down_secs)
        await asyncio.to_thread(self._start_redis)

    # ---- quiet phase ------------------------------------------------------------------------------------

    async def _drained(self, bus: Bus, stream: str, group: str | None = None) -> bool:
        for stats in await bus.group_stats(stream):
            if group is not None and stats.group != group:
                continue
            if stats.pending or (stats.lag or 0):
                return False
        return True

    async def _wait(self, what: str, check: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        steady = 0
        while time.monotonic() < deadline:
            try:
                steady = steady + 1 if await check() else 0
            except Exception as error:  # noqa: BLE001
                log.info("%s: %s", what, error)
                steady = 0
            if steady >= 3:  # three checks in a row, half a second apart
                return True
            await asyncio.sleep(0.5)
        self.notes.append(f"quiet phase: {what} not reached within {timeout:.0f}s")
        return False

    async def _stop(self, name: str) -> int | None:
        codes = await self.supervisors[name].stop(grace_secs=30)
        return codes[name]

    async def quiet(self) -> tuple[dict[str, int | None], list[dict[str, Any]]]:
        """Stop the pipeline front to back; returns exit codes and the trades snapshot taken before the
        executor stops (the exchange keeps settling trades after it)."""
        client, bus = await self._bus()
        codes: dict[str, int | None] = {}
        timeout = self.config.settle_timeout_secs
        try:
            codes["ingest"] = await self._stop("ingest")
            shards = [k.decode().removeprefix(PREFIX) async for k in client.scan_iter(match=f"{PREFIX}events:*")]
            shards = [s for s in shards if not s.endswith(":dead")]

            async def events_drained() -> bool:
                return all([await self._drained(bus, s) for s in shards])

            await self._wait("events drained", events_drained, timeout)
            codes["strategy"] = await self._stop("strategy")
            await self._wait("intents drained", lambda: self._drained(bus, INTENTS), timeout)
            await self._wait("approved_orders drained", lambda: self._drained(bus, APPROVED_ORDERS), timeout)
            trades: list[dict[str, Any]] = []

            async def fills_cover_trades() -> bool:
                nonlocal trades
                trades = await asyncio.to_thread(self._exchange, "/trades")
                ours = {str(t) for o in await asyncio.to_thread(self._our_orders) for t in o["associate_trades"]}
                recorded = {(m.trade_id, str(m.status)) for _, m in await bus.history(FILLS, count=10**7)
                            if m is not None and m.TYPE == "fill"}
                mine = [t for t in trades if str(t["id"]) in ours]
                # Settled too (CONFIRMED or FAILED): risk's ledger is then compared with the chain's balances.
                return all((str(t["id"]), str(t["status"])) in recorded for t in mine) and all(
                    str(t["status"]).removeprefix("TRADE_STATUS_") in ("CONFIRMED", "FAILED") for t in mine)

            db = self.tmp / "state" / "executor.sqlite"
            await self._wait("every approval finished", lambda: approvals_finished(db), timeout)
            # Resting orders (market making) can still trade against the flow until the executor stops, after
            # the trades were read: cancel them first, as an operator's cancel all would.
            await bus.publish(CONTROL, CancelAllRequested(envelope=Envelope.new("chaos"), reason="quiet phase"))

            async def nothing_live() -> bool:
                orders = await asyncio.to_thread(self._our_orders)
                return not any(str(o.get("status", "")).upper().removeprefix("ORDER_STATUS_") == "LIVE"
                               for o in orders)

            await self._wait("no order of ours live", nothing_live, timeout)
            await self._wait("fills cover the exchange's trades, settled", fills_cover_trades, timeout)
            # Risk has applied every fill to its ledger before it stops: the ledger is compared at the end.
            await self._wait("fills drained by risk", lambda: self._drained(bus, FILLS, RISK_GROUP), timeout)
            codes["risk"] = await self._stop("risk")
            codes["executor"] = await self._stop("executor")
        finally:
            await client.aclose()
        return codes, trades

    # ---- records ----------------------------------------------------------------------------------------

    def _exchange(self, path: str) -> Any:
        assert self.paper is not None
        with self.paper.admin() as admin:
            response = admin.get(path)
            response.raise_for_status()
            return response.json()

    def _our_orders(self) -> list[dict[str, Any]]:
        assert self.paper is not None
        wallet = self.paper.wallet.lower()
        return [o for o in self._exchange("/orders") if str(o.get("maker_address", "")).lower() == wallet]

    async def collect(self, trades: list[dict[str, Any]]) -> Records:
        assert self.paper is not None
        client, bus = await self._bus()
        try:
            records = Records(wallet=self.paper.wallet, events=await self.event_count(bus))
            records.intents = await bus.history(INTENTS, count=10**7)
            records.decisions = [m for _, m in await bus.history(DECISIONS, count=10**7)]
            records.approved = [m for _, m in await bus.history(APPROVED_ORDERS, count=10**7)]
            records.fills = [m for _, m in await bus.history(FILLS, count=10**7)]
            streams = list(ALL_STREAMS)
            streams += [k.decode().removeprefix(PREFIX) async for k in client.scan_iter(match=f"{PREFIX}events:*")
                        if not k.decode().endswith(":dead")]
            for stream in streams:
                letters = await bus.dead_letters(stream, count=10**6)
                if letters:
                    records.dead_letters[stream] = letters
        finally:
            await client.aclose()
        records.exchange_orders = self._exchange("/orders")
        records.exchange_trades = trades
        records.executor_orders = executor_orders(self.tmp / "state" / "executor.sqlite")
        records.executor_approvals = executor_approvals(self.tmp / "state" / "executor.sqlite")
        records.ledger = await self._ledger_report()
        records.aimed = dict(self.aimed)
        records.faults = list(self.faults)
        records.poisoned = list(self.poisoned)
        records.pauses = dict(self.pauses)
        logs = sorted((self.tmp / "logs").glob("events-*.jsonl"))
        logged = read_events(logs)
        records.decision_log = [e for e in logged if e.get("type") in {"risk_approve", "risk_reject"}]
        records.dropped_by_executor = {str(e.get("client_order_id")) for e in logged
                                       if e.get("type") == "approval_dropped" and e.get("reason") == "kill switch on"}
        records.kills = dict(self.kills)
        return records

    async def _ledger_report(self) -> dict[str, Any]:
        """Risk's ledger beside the exchange's balances of our wallet (chain and Data API), as `polydesk
        positions` shows them; {"error": ...} when the ledger cannot be read."""
        assert self.paper is not None
        try:
            ledger = read_ledger(self.tmp / "state" / "risk.sqlite")
        except FileNotFoundError as error:
            return {"error": str(error)}
        venue = await read_venue(f"{self.paper.url}/data-api", f"{self.paper.url}/rpc", self.paper.wallet,
                                 [p.token_id for p in ledger.positions])
        result = report(ledger, venue)
        result["pending_cash"] = str(ledger.pending_cash_usd)
        result["provisional"] = {p.token_id: str(p.provisional) for p in ledger.positions if p.provisional}
        differing = sorted({d["token_id"] for d in result["position_differences"]})
        if differing:
            result["diagnosis"] = self._diagnosis(differing)
        return result

    def _diagnosis(self, token_ids: list[str]) -> list[str]:
        """For a token whose ledger differs from the venue: every part risk booked beside every trade the
        exchange reports for our orders in it, so a failed run says which fill went wrong."""
        db = open_readonly(self.tmp / "state" / "risk.sqlite")
        try:
            store = SqliteLedgerStore(db)
            ours = {o["id"]: o for o in self._our_orders()}
            trades = self._exchange("/trades")
            lines = []
            for token in token_ids:
                parts, entries = store.token_items(token)
                lines.append(f"token {token[:12]}…: ledger parts")
                lines += [f"  {p.trade_id} {p.order_id[:12]} {p.side} {p.size}@{p.price} "
                          f"{sorted(s.value for s in p.statuses)}" for p in parts]
                lines += [f"  entry {e.kind.value} {e.shares} {e.usd} {e.ref}" for e in entries]
                lines.append("  exchange trades of our orders")
                for t in trades:
                    makers = [m for m in t.get("maker_orders", []) if m.get("order_id") in ours]
                    taker = t.get("taker_order_id") in ours
                    if (taker and t.get("asset_id") == token) or any(m.get("asset_id") == token for m in makers):
                        lines.append(f"  {t['id']} {t.get('status')} taker={t.get('taker_order_id', '')[:12]}"
                                     f"{'(ours)' if taker else ''} {t.get('side')} {t.get('size')}@{t.get('price')}"
                                     f" makers={[(m['order_id'][:12], m.get('matched_amount')) for m in makers]}")
            return lines
        finally:
            db.close()

    async def close(self) -> None:
        for supervisor in self.supervisors.values():
            with contextlib.suppress(Exception):
                await supervisor.stop(grace_secs=10)
        if self.paper is not None:
            self.paper.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.events_log is not None:
            self.events_log.close()


async def run_chaos(tmp: Path, config: ChaosConfig) -> ChaosRun:
    tmp = Path(tmp).resolve()
    saved_env = dict(os.environ)
    chaos = Chaos(tmp, config)
    started = time.monotonic()
    try:
        await chaos.start()
        chaos.timings["start"] = round(time.monotonic() - started, 1)
        await chaos.chaos()
        chaos.timings["chaos"] = round(time.monotonic() - started - chaos.timings["start"], 1)
        codes, trades = await chaos.quiet()
        chaos.timings["quiet"] = round(time.monotonic() - started - chaos.timings["start"] - chaos.timings["chaos"], 1)
        records = await chaos.collect(trades)
        restarts = {name: s.children[name].restarts for name, s in chaos.supervisors.items()}
    finally:
        await chaos.close()
        os.environ.clear()
        os.environ.update(saved_env)
    return ChaosRun(records, time.monotonic() - started, restarts, codes, chaos.notes, chaos.timings)


def summary(run: ChaosRun) -> dict[str, Any]:
    return {"elapsed_secs": round(run.elapsed_secs, 1), "restarts": run.restarts, "exit_codes": run.exit_codes,
            "timings": run.timings, "aimed": run.records.aimed, "faults": len(run.records.faults),
            "pauses": run.records.pauses, "notes": run.notes}


def dump(path: Path, text: str, extra: dict[str, Any]) -> None:
    path.write_text(text + "\n" + json.dumps(extra, indent=2, default=str) + "\n")
