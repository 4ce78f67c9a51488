"""Consumers benchmark: what the strategy's and risk's handlers cost per BookDelta and per intent, against a
decode of the same stream entry (shared.messages.decode, msgspec) measured in the same run.

    python -m bench.consumers [--deltas 20000] [--markets 500] [--resting 1000] [--repeat 5]

The real handlers are called in this process as the bus calls them, with a Delivery of the decoded message:
StrategyWorker.on_event (the `bench` strategy, as `polydesk bench` runs it), RiskService.on_market_event
(marks: tokens risk does not hold, and a held token whose mark moves) and RiskService.on_intent (resting
post-only BUYs spread over the markets, on top of `--resting` open orders, as a long bench run leaves them).
Risk's state is its SQLite file in WAL mode on this disk, as in production; the context's Redis is fakeredis
(a handler touches Redis only to mirror a kill switch change). Times are CPU seconds of this process
(time.process_time: other processes' load on this shared machine is not counted), best of `--repeat` rounds,
each round timing the baseline right before the handler. The bus's own work per entry (XREADGROUP, the
commit script) is bench/bus.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import fakeredis

from bench.goals import GoalResult
from services.risk.config import RiskSettings
from services.risk.service import RiskService
from services.risk.state import RiskState
from services.strategy.config import StrategySettings
from services.strategy.service import StrategyWorker
from shared import messages as m
from shared.lifecycle import ServiceContext
from shared.logging import EventLog
from shared.streams import Bus, Delivery, Output, events_stream

SHARD = "main"
EVENTS = events_stream(SHARD)
# Goals, as ratios to a decode of the same entry. A book change: at 10,000/s every microsecond of a handler
# is 1 % of a core, so the strategy's (it reads the book) stays within 2.5 decodes and risk's (marks) within
# one. An intent: its decision (a dozen SQLite reads, a commit, two event lines) within 150 decodes of it
# (about 0.3 ms here); a table scan per intent (1,000 resting orders) took it past that.
DELTA_GOAL = {"strategy": 2.5, "risk": 1.0}
INTENT_GOAL = 150.0
PACED_INTENTS, PACED_GAP_SECS = 50, 0.01  # intents arriving 100 a second, the loop idle in between

Handler = Callable[[Delivery], Awaitable[Sequence[Output]]]


def _cid(k: int) -> str:
    return f"0x{k:064x}"


def _token(k: int, outcome: int) -> str:
    return f"{7 * 10**70 + 2 * k + outcome}"  # venue token ids are 77-digit decimals


def _market(k: int, now: float) -> m.MarketInfo:
    return m.MarketInfo(
        condition_id=_cid(k),
        question=f"bench {k}?",
        slug=f"bench-{k}",
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
        volume_24h_usd=Decimal(50_000),
        end_date_ts=int(now) + 30 * 86_400,
        tokens=(
            m.TokenInfo(token_id=_token(k, 0), outcome="Yes"),
            m.TokenInfo(token_id=_token(k, 1), outcome="No"),
        ),
    )


def _snapshot(k: int, outcome: int) -> m.BookSnapshot:
    levels = [m.PriceLevel(price=Decimal(f"0.{p}"), size=Decimal(100)) for p in range(30, 46)]
    asks = [m.PriceLevel(price=Decimal(f"0.{p}"), size=Decimal(100)) for p in range(55, 71)]
    return m.BookSnapshot(
        envelope=m.Envelope.new("ingest"),
        market=_cid(k),
        token_id=_token(k, outcome),
        bids=tuple(reversed(levels)),
        asks=tuple(asks),
        tick_size=Decimal("0.01"),
        epoch=1,
    )


def deltas(count: int, markets: int, *, market: int | None = None) -> list[m.BookDelta]:
    """One change a frame on a market's YES bid (round robin, or all on `market`), with the tops after it:
    a level set or withdrawn between 0.30 and 0.45, so the best bid (risk's mark) moves often."""
    out = []
    for i in range(count):
        k = i % markets if market is None else market
        cents = 30 + (i * 7) % 16
        top = Decimal(f"0.{max(cents, 45 - i % 3)}")
        out.append(
            m.BookDelta(
                envelope=m.Envelope.new("ingest"),
                market=_cid(k),
                epoch=1,
                changes=(
                    m.LevelChange(
                        token_id=_token(k, 0),
                        side=m.Side.BUY,
                        price=Decimal(f"0.{cents}"),
                        size=Decimal(100 * (i % 2)),
                    ),
                ),
                best_bid={_token(k, 0): top},
                best_ask={_token(k, 0): Decimal("0.55")},
            )
        )
    return out


def intents(count: int, markets: int, tag: str) -> list[m.OrderIntent]:
    """The bench strategy's order: a post-only BUY of 5 at 0.01 (rests, never fills), its own signal key."""
    return [
        m.OrderIntent(
            envelope=m.Envelope.new("strategy"),
            market=_cid(i % markets),
            token_id=_token(i % markets, 0),
            side=m.Side.BUY,
            size=Decimal(5),
            price=Decimal("0.01"),
            post_only=True,
            strategy="bench",
            signal_key=f"bench:{tag}:{i}",
            reason="bench_trigger: consumers bench",
        )
        for i in range(count)
    ]


def _context(service: str, settings: Any, work: Path) -> ServiceContext:
    redis = fakeredis.FakeAsyncRedis()
    return ServiceContext(
        service,
        settings,
        redis,
        Bus(redis, prefix="bench:", producer=service),
        EventLog(work / "logs", service),
    )


@dataclass
class Services:
    strategy: StrategyWorker
    risk: RiskService

    def close(self) -> None:
        self.risk.state.close()


async def _feed(handler: Handler, messages: Sequence[m.Message]) -> None:
    for message in messages:
        await handler(Delivery(EVENTS, "1-0", message, 1))


async def start(work: Path, markets: int, resting: int, strategies: tuple[str, ...] = ("bench",)) -> Services:
    """Both services with `markets` binary markets discovered and snapshotted, risk holding one token (of
    market 0) and `resting` open orders."""
    common: dict[str, Any] = {"state_dir": work / "state", "log_dir": work / "logs", "shards": (SHARD,)}
    risk_settings = RiskSettings(  # type: ignore[call-arg]
        _env_file=None,
        **common,
        dry_run=False,
        dedup_window_secs=1,
        min_liquidity_usd=Decimal(0),
        max_per_market_notional_usd=Decimal(10**9),
        max_daily_loss_usd=Decimal(10**6),
    )
    strategy_settings = StrategySettings(_env_file=None, **common, strategies=strategies)  # type: ignore[call-arg]
    risk = RiskService(
        risk_settings, _context("risk", risk_settings, work), RiskState(risk_settings.db_path())
    )
    strategy = StrategyWorker(_context("strategy", strategy_settings, work), strategy_settings)
    strategy.engine.on_seen = strategy.count_seen  # as run() sets it after the rebuild
    now = time.time()
    setup: list[m.Message] = []
    for k in range(markets):
        setup += [
            m.MarketDiscovered(envelope=m.Envelope.new("ingest"), market=_market(k, now)),
            _snapshot(k, 0),
            _snapshot(k, 1),
        ]
    await _feed(strategy.on_event, setup)
    await _feed(risk.on_market_event, setup)
    held = m.Fill(
        envelope=m.Envelope.new("executor"),
        trade_id="bench-held",
        status=m.TradeStatus.MATCHED,
        order_id="0xb",
        client_order_id="bench-held",
        market=_cid(0),
        token_id=_token(0, 0),
        side=m.Side.BUY,
        size=Decimal(10),
        price=Decimal("0.40"),
        fee_usd=Decimal(0),
    )
    await risk.on_fill(Delivery("fills", "1-0", held, 1))
    with risk.state.transaction():
        for i in range(resting):
            k = i % markets
            risk.state.upsert_open_order(
                f"bench-resting-{i}", _cid(k), _token(k, 0), m.Side.BUY, Decimal("0.01"), Decimal(5)
            )
    return Services(strategy, risk)


def _cpu_us(run: Callable[[], None], items: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / items * 1e6


def _decoding(messages: Sequence[m.Message]) -> Callable[[], None]:
    entries = [m.encode(message) for message in messages]

    def decode_all() -> None:
        for fields in entries:
            m.decode(fields)

    return decode_all


async def _paced(handler: Handler, messages: Sequence[m.Message], gap_secs: float) -> float:
    """CPU seconds in the handler alone, with the loop idle for `gap_secs` before each message."""
    spent = 0.0
    for message in messages:
        await asyncio.sleep(gap_secs)
        started = time.process_time()
        await handler(Delivery(EVENTS, "1-0", message, 1))
        spent += time.process_time() - started
    return spent


def _handling(handler: Handler, messages: Sequence[m.Message]) -> Callable[[], None]:
    return lambda: asyncio.run(_feed(handler, messages))


def measure(
    deltas_count: int = 20_000,
    markets: int = 500,
    resting: int = 1000,
    repeat: int = 5,
    strategies: tuple[str, ...] = ("bench",),
) -> dict[str, Any]:
    """Microseconds of CPU per message: each handler and the decode of its messages, best of `repeat` rounds."""
    best: dict[str, float] = {}

    def keep(name: str, us: float) -> None:
        best[name] = min(best.get(name, float("inf")), us)

    with tempfile.TemporaryDirectory(prefix="bench-consumers-") as tmp:
        services = asyncio.run(start(Path(tmp), markets, resting, strategies))
        try:
            book = deltas(deltas_count, markets)
            held = deltas(deltas_count // 4, markets, market=0)
            n_intents = max(10, deltas_count // 100)
            for round_ in range(repeat):
                orders = intents(n_intents, markets, f"r{round_}")
                for name, handler, messages in (
                    ("strategy_delta", services.strategy.on_event, book),
                    ("risk_delta", services.risk.on_market_event, book),
                    ("risk_delta_held", services.risk.on_market_event, held),
                    ("risk_intent", services.risk.on_intent, orders),
                ):
                    keep(f"{name}_decode", _cpu_us(_decoding(messages), len(messages)))
                    keep(name, _cpu_us(_handling(handler, messages), len(messages)))
                # As intents come in a pipeline: one now and then, the process's caches cold in between.
                sparse = intents(PACED_INTENTS, markets, f"p{round_}")
                spent = asyncio.run(_paced(services.risk.on_intent, sparse, PACED_GAP_SECS))
                keep("risk_intent_sparse", spent / len(sparse) * 1e6)
                keep("risk_intent_sparse_decode", best["risk_intent_decode"])
        finally:
            services.close()
    return {**best, "markets": markets, "resting": resting, "strategies": ", ".join(strategies)}


ROWS = (
    ("strategy_delta", "strategy per BookDelta"),
    ("risk_delta", "risk per BookDelta, tokens it does not hold (marks)"),
    ("risk_delta_held", "risk per BookDelta, a held token's mark moving (PnL, loss check)"),
    ("risk_intent", "risk per OrderIntent (decision, SQLite commit, event lines)"),
    ("risk_intent_sparse", f"risk per OrderIntent, one every {PACED_GAP_SECS * 1000:.0f} ms (caches cold)"),
)


def _sparse(us: dict[str, Any]) -> str:
    return f"; {us['risk_intent_sparse']:.0f} us each when one comes every {PACED_GAP_SECS * 1000:.0f} ms"


def goals(us: dict[str, Any]) -> list[GoalResult]:
    out = []
    for key, service, limit in (
        ("strategy_delta", "strategy", DELTA_GOAL["strategy"]),
        ("risk_delta", "risk", DELTA_GOAL["risk"]),
        ("risk_intent", "risk", INTENT_GOAL),
    ):
        what = "OrderIntent" if key.endswith("intent") else "BookDelta"
        out.append(
            GoalResult.judge(
                f"{service} handler CPU per {what} / a decode of it",
                f"{us[key]:.1f} us per {what}",
                us[key] / us[f"{key}_decode"],
                limit,
                at_least=False,
                detail=f"decode {us[f'{key}_decode']:.2f} us in the same run; {us['markets']} markets, "
                f"{us['resting']} resting orders{_sparse(us) if what == 'OrderIntent' else ''}",
            )
        )
    return out


def run_goals(deltas_count: int = 20_000, repeat: int = 3) -> list[GoalResult]:
    return goals(measure(deltas_count, repeat=repeat))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deltas", type=int, default=20_000, help="BookDeltas per round (intents: 1 in 100)")
    parser.add_argument("--markets", type=int, default=500)
    parser.add_argument("--resting", type=int, default=1000, help="risk's open orders before the intents")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strategies", default="bench", help="the strategy worker's, comma list")
    args = parser.parse_args()
    print(f"consumers bench: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    us = measure(args.deltas, args.markets, args.resting, args.repeat, tuple(args.strategies.split(",")))
    print(f"  strategies: {us['strategies']}")
    for key, what in ROWS:
        decode = us[f"{key}_decode"]
        print(f"  {what:<68} {us[key]:8.2f} us  {us[key] / decode:6.2f}x decode ({decode:.2f} us)")
    for goal in goals(us):
        print(goal.line())


if __name__ == "__main__":
    main()
