"""The backtest loop: start the venue and the services, then for each tape batch move the clock, apply the
batch and wait until the pipeline has settled (polydesk/backtest/settle.py); then let the last trades
settle in tape time, collect what happened and build the report."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from paperexchange.replay import BookBatch, ReplayVenue, TapeBookSource
from polydesk.backtest import collect as collecting
from polydesk.backtest import report as reporting
from polydesk.backtest.pipeline import Pipeline, backtest_wallet
from polydesk.backtest.settle import Settler
from polydesk.settings import SERVICES
from shared.clock import SimClockWriter


class _TapeClock:
    """The replaying venue's clock: the instant the driver wrote into the shared clock file."""

    def __init__(self, writer: SimClockWriter) -> None:
        self._writer = writer

    def now(self) -> float:
        return self._writer.now()


COLLATERAL_USD = 10_000.0
# After the tape, the clock moves on (in tape time) so its last trades walk to MINED (20 s) and CONFIRMED
# (+60 s): steps at these offsets from the last batch.
TAIL_OFFSETS_SECS = (1.0, 21.0, 81.0, 82.0)
START_TIMEOUT_SECS = 90.0
FIRST_SERVICES = ("ingest", "risk", "executor")


class BacktestError(RuntimeError):
    """The backtest could not run; the message says why."""


@dataclass
class Options:
    tape: Path
    report_dir: Path
    strategies: str | None = None
    seed: int = 0
    speed: float | None = None  # None: as fast as the pipeline settles; else tape seconds per wall second
    collateral_usd: float = COLLATERAL_USD
    keep_run_dir: bool = False


Progress = Callable[[int, int], None]  # (steps done, steps in all)


def _resolutions(venue: ReplayVenue) -> list[reporting.Resolution]:
    return [reporting.Resolution(r.at_ms, r.condition_id, r.token_ids, r.winner) for r in venue.resolutions()]


async def _wait_ready(
    pipeline: Pipeline, venue: ReplayVenue, settler: Settler, services: tuple[str, ...]
) -> None:
    """The services healthy, ingest subscribed to every open token, the executor on the user channel, and
    everything they did on start settled."""
    assert pipeline.bus is not None
    tokens = venue.open_tokens()
    deadline = time.monotonic() + START_TIMEOUT_SECS
    missing = "nothing checked yet"
    while time.monotonic() < deadline:
        if pipeline.gave_up():
            break
        healthy = [
            name
            for name in services
            if await pipeline.bus.redis.exists(f"{pipeline.bus.prefix}health:{name}:backtest-{name}")
        ]
        assets, user_sockets = venue.subscriptions()
        missing = ", ".join(
            [f"{name} not healthy" for name in services if name not in healthy]
            + (
                [f"ingest subscribed to {len(tokens & assets)} of {len(tokens)} tokens"]
                if tokens - assets
                else []
            )
            + (["the executor not on the user channel"] if not user_sockets else [])
        )
        if not missing:
            await settler.refresh_streams()
            venue.release_user_events()
            if await settler.settle(timeout_secs=2.0):
                return
            missing = f"the pipeline did not settle: {settler.unsettled}"
        await asyncio.sleep(0.2)
    errors = pipeline.last_errors()
    raise BacktestError(
        f"the services were not ready within {START_TIMEOUT_SECS:.0f}s: {missing}"
        + (f" ({errors})" if errors else "")
    )


def _tape_info(options: Options, source: TapeBookSource, late_steps: int, wallet: str) -> dict:
    digest = hashlib.sha256(options.tape.read_bytes()).hexdigest()
    return {
        "tape": {
            "name": options.tape.name,
            "sha256": digest,
            "start": reporting._iso(source.start_ms),
            "end": reporting._iso(source.end_ms),
            "batches": len(source.batches),
            "markets": len(source.meta.get("markets", [])),
        },
        "seed": options.seed,
        "strategies": [s for s in (options.strategies or "").split(",") if s],
        "late_steps": late_steps,
        "wallet": wallet,  # the backtest's own paper wallet (from the seed)
        "model": "docs/backtest.md",
    }


async def _save_venue_records(venue: ReplayVenue, run_dir: Path) -> None:
    """The paper exchange's own trade and order records (its admin API), beside the report, to check it by."""
    async with httpx.AsyncClient(base_url=venue.url + "/_paper", timeout=30.0) as admin:
        for name in ("trades", "orders"):
            response = await admin.get(f"/{name}")
            response.raise_for_status()
            (run_dir / f"paper-{name}.json").write_bytes(response.content)


async def run(
    options: Options, progress: Progress | None = None, source: TapeBookSource | None = None
) -> reporting.Report:
    """Run the backtest; `source` is the tape already opened (else it is opened from options.tape)."""
    source = source or TapeBookSource.open(options.tape)
    run_dir = options.report_dir / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    writer = SimClockWriter(run_dir / "clock", source.start_ms * 1_000_000)
    venue = ReplayVenue(source, _TapeClock(writer), options.seed)
    wallet = backtest_wallet(run_dir, options.seed)
    venue.start()
    pipeline = Pipeline(run_dir, venue.url, wallet, writer.path, options.strategies)
    settler: Settler | None = None
    marks: list[tuple[int, dict[str, Decimal]]] = []
    try:
        venue.fund(wallet.address, options.collateral_usd)
        batches = source.batches
        venue.step(batches[0])
        pipeline.start_redis()
        # Strategy starts last, once risk knows every market and book: it then reads the events stream
        # from its start, and no intent can reach risk before the market it is about.
        await pipeline.start_services(FIRST_SERVICES)
        assert pipeline.bus is not None
        settler = Settler(
            venue,
            pipeline.bus,
            f"http://127.0.0.1:{pipeline.metrics_ports['ingest']}/metrics",
            f"http://127.0.0.1:{pipeline.metrics_ports['executor']}/metrics",
            run_dir / "state" / "executor.sqlite",
        )
        await _wait_ready(pipeline, venue, settler, FIRST_SERVICES)
        await pipeline.start_services(("strategy",))
        await _wait_ready(pipeline, venue, settler, SERVICES)
        last_marks: dict[str, Decimal] = {}
        started = time.monotonic()
        tail: list[tuple[BookBatch | None, int]] = [
            (None, source.end_ms + int(offset * 1000)) for offset in TAIL_OFFSETS_SECS
        ]
        steps = [*((batch, batch.ts_ms) for batch in batches[1:]), *tail]
        for index, (batch, at_ms) in enumerate(steps, start=1):
            if options.speed:
                due = started + (at_ms - source.start_ms) / 1000 / options.speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.set_ns(max(writer.now_ns(), at_ms * 1_000_000))  # the tape's time never goes back
            venue.step(batch)
            await settler.settle()
            while venue.release_user_events():  # then the fills, and whatever they cause, until quiet
                await settler.settle()
            now_marks = venue.marks()
            changed = {t: m for t, m in now_marks.items() if last_marks.get(t) != m}
            if changed:
                marks.append((writer.now_ns() // 1_000_000, changed))
                last_marks = now_marks
            if index % 200 == 0:
                await settler.refresh_streams()
            if progress is not None:
                progress(index, len(steps))
            if pipeline.gave_up():
                raise BacktestError("a service kept failing; see its log under " + str(run_dir / "logs"))
        collected = await collecting.collect(pipeline.bus)
        await _save_venue_records(venue, run_dir)
        resolutions = _resolutions(venue)
        info = _tape_info(options, source, settler.late_steps, wallet.address)
        return reporting.compute(collected.fills, marks, resolutions, collected.rejections, info)
    finally:
        if settler is not None:
            await settler.close()
        await pipeline.stop()
        venue.stop()
        writer.close()
        if not options.keep_run_dir:
            shutil.rmtree(run_dir / "redis", ignore_errors=True)
