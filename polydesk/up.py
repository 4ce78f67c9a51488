"""`polydesk up`: Redis (found or embedded), the paper exchange (unless a venue is configured), and the
four services under one supervisor, with the live dashboard; Ctrl-C stops everything gracefully.

With no venue settings it runs in paper mode. Pointed at Polymarket itself with `POLYDESK_DRY_RUN=false`,
it says loudly that it is trading live.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any

from polydesk.paper_mode import PaperVenue, is_production, start_paper_exchange, venue_is_configured
from polydesk.settings import SERVICES, UpSettings
from polydesk.supervisor import Supervisor
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.logging import EventLog, register_secret, setup_console
from shared.redis_conn import connect, resolve_redis
from shared.streams import FILLS, Bus

log = logging.getLogger("polydesk.up")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="polydesk up", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=None,
                        help="run headless for this many seconds, then stop and print a summary")
    parser.add_argument("--no-dash", action="store_true", help="no dashboard: service logs on the console")
    return parser.parse_args(argv)


def child_env(redis_url: str, slot: str, extra: dict[str, str], metrics_port: int | None = None) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["POLYDESK_REDIS_URL"] = redis_url
    env["POLYDESK_INSTANCE"] = slot
    env.pop("POLYDESK_METRICS_PORT", None)  # unless given, each service keeps its own default port
    if metrics_port is not None:
        env["POLYDESK_METRICS_PORT"] = str(metrics_port)
    return env


def announce_mode(paper: PaperVenue | None) -> str:
    """The one line that says where orders go; loud when real money can move."""
    if paper is not None:
        return f"PAPER mode: orders go to the local paper exchange at {paper.url} (wallet {paper.wallet})"
    clob = os.environ.get("POLYDESK_CLOB_URL")
    dry_run = os.environ.get("POLYDESK_DRY_RUN", "true").lower() not in {"false", "0", "no", "off"}
    if is_production(clob) and not dry_run:
        bar = "!" * 78
        return f"{bar}\n!!  LIVE TRADING on Polymarket ({clob or 'https://clob.polymarket.com'}): real money.\n{bar}"
    if is_production(clob):
        return "Polymarket venue, DRY RUN: decisions are logged, no order is sent (POLYDESK_DRY_RUN=false to trade)"
    return f"external venue {clob}: {'DRY RUN' if dry_run else 'orders are sent'}"


async def run_up(settings: UpSettings, args: argparse.Namespace) -> int:
    url, embedded = resolve_redis(settings.redis_url, settings.redis_password_value(), settings.state_dir,
                                  embedded_only=settings.redis_embedded, embedded_port=settings.embedded_redis_port)
    events = EventLog(settings.log_dir, "up")
    dashboard = args.duration is None and not args.no_dash and sys.stdout.isatty()
    service_logs = Path(settings.log_dir) / "services"
    paper = None
    if not venue_is_configured(dict(os.environ)):
        service_logs.mkdir(parents=True, exist_ok=True)
        paper = start_paper_exchange(
            settings.state_dir, port=settings.paper_port, scenario=settings.paper_scenario, seed=settings.paper_seed,
            speed=settings.paper_speed, collateral_usd=settings.paper_collateral_usd,
            log_path=service_logs / "paper-exchange.log")
    supervisor = Supervisor(events, settings.restart_backoff_base_secs, settings.restart_backoff_max_secs,
                            settings.restart_reset_after_secs)
    extra = paper.env() if paper else {}
    base = settings.up_metrics_port_base
    for name in settings.up_services:
        port = None if base is None else base + SERVICES.index(name)
        supervisor.add_service(name, child_env(url, f"local-{name}", extra, port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(announce_mode(paper), flush=True)
    print(f"polydesk: Redis at {'embedded ' if embedded else ''}{url.split('@')[-1]}; running "
          f"{', '.join(settings.up_services)}; {'Ctrl-C stops' if args.duration is None else f'{args.duration:.0f}s'}",
          flush=True)
    events.emit("up_started", mode="paper" if paper else "venue", services=list(settings.up_services),
                duration_secs=args.duration, paper_exchange_pid=paper.process.pid if paper else None,
                paper_exchange_url=paper.url if paper else None,
                embedded_redis_pid=embedded.process.pid if embedded else None)
    started = time.monotonic()
    since_id = f"{int(time.time() * 1000)}-0"  # Redis may hold earlier runs' entries: count only this run's
    client = connect(url, settings.redis_password_value())
    bus = Bus(client, prefix=settings.stream_prefix)
    try:
        await supervisor.start(log_dir=service_logs if dashboard else None)
        await _run_until_stopped(stop, args.duration, paper, bus if dashboard else None)
        last_risk = await _risk_status(bus)
        print("polydesk: stopping (the executor cancels its open orders)...", flush=True)
        codes = await supervisor.stop(settings.shutdown_grace_secs + 5)
        summary = await _summary(bus, since_id, paper, supervisor, codes, last_risk, time.monotonic() - started)
    finally:
        await client.aclose()
        if paper:
            paper.stop()
        if embedded:
            embedded.stop()
    _print_summary(summary)
    events.emit("up_stopped", **summary)
    events.close()
    clean = all(code == 0 for code in codes.values()) and not summary.get("open_orders_left")
    return 0 if clean else 1


async def _run_until_stopped(stop: asyncio.Event, duration: float | None, paper: PaperVenue | None,
                             dashboard_bus: Bus | None) -> None:
    async def watch_paper() -> None:
        while paper is not None and not stop.is_set():
            if not paper.alive():
                log.error("the paper exchange exited; stopping (its state is gone, a restart would not help)")
                stop.set()
            await asyncio.sleep(0.5)

    tasks = [asyncio.create_task(watch_paper())]
    if dashboard_bus is not None:
        from polydesk.dashboard import run_dashboard

        tasks.append(asyncio.create_task(run_dashboard(dashboard_bus, stop)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _risk_status(bus: Bus) -> dict[str, Any]:
    from polydesk.dashboard import collect

    with contextlib.suppress(Exception):
        return (await collect(bus)).risk_status
    return {}


async def _summary(bus: Bus, since_id: str, paper: PaperVenue | None, supervisor: Supervisor,
                   codes: dict[str, int | None], risk: dict[str, Any], elapsed: float) -> dict[str, Any]:
    from shared.messages import ApprovedOrder, Fill, OrderIntent, OrderStatus, OrderUpdate, TradeStatus

    ACCEPTED = {OrderStatus.LIVE, OrderStatus.DELAYED, OrderStatus.MATCHED}

    async def this_run(stream: str) -> list[Any]:
        return [m for _, m in await bus.history(stream, after=since_id, count=1_000_000)]

    fills, intents, approved = await this_run(FILLS), await this_run("intents"), await this_run("approved_orders")
    summary: dict[str, Any] = {
        "elapsed_secs": round(elapsed, 1),
        "restarts": {name: child.restarts for name, child in supervisor.children.items()},
        "exit_codes": codes,
        "intents": sum(1 for m in intents if isinstance(m, OrderIntent)),
        "approved_orders": sum(1 for m in approved if isinstance(m, ApprovedOrder)),
        "orders_accepted": len({m.order_id for m in fills if isinstance(m, OrderUpdate) and m.order_id
                                and m.status in ACCEPTED}),
        "trades_confirmed": len({m.trade_id for m in fills if isinstance(m, Fill) and m.status == TradeStatus.CONFIRMED}),
        "pnl_realized_usd": risk.get("pnl_realized_usd"),
        "pnl_unrealized_usd": risk.get("pnl_unrealized_usd"),
        "kill_switch": _kill_switch_text(risk.get("kill_switch")),
    }
    if paper is not None and paper.alive():
        with paper.admin() as admin, contextlib.suppress(Exception):
            ours = [o for o in admin.get("/orders").json()
                    if str(o.get("maker_address", "")).lower() == paper.wallet.lower()]
            summary["exchange_orders"] = len(ours)
            summary["open_orders_left"] = sum(1 for o in ours if str(o.get("status", "")).upper() in {"LIVE", "OPEN"})
    return summary


def _kill_switch_text(status: Any) -> str:
    if isinstance(status, dict):
        return f"ON: {status.get('reason')}" if status.get("active") else "off"
    return "unknown"


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"polydesk ran {summary['elapsed_secs']}s")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key != "elapsed_secs":
            table.add_row(key.replace("_", " "), str(value))
    Console().print(table)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    try:
        settings = load_settings(UpSettings)
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2
    setup_console("up", settings.log_level)
    if settings.redis_password:
        register_secret(settings.redis_password)
    try:
        return asyncio.run(run_up(settings, args))
    except ConfigurationError as error:
        print(f"polydesk up: {error}", file=sys.stderr)
        return 2


def run_service_main(argv: list[str]) -> int:
    """`polydesk run <service>`: one service in the foreground, through its own `__main__` wiring."""
    if len(argv) != 1 or argv[0] not in SERVICES:
        print(f"usage: polydesk run {{{','.join(SERVICES)}}}", file=sys.stderr)
        return 2
    try:
        runpy.run_module(f"services.{argv[0]}", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
