"""The terminal dashboard: `polydesk dash` attaches to a running pipeline; `polydesk up` shows it live.

Everything shown comes from Redis: the services' health keys (each service publishes its own status
there), the streams' group stats, and the newest entries of `intents`, `decisions`, `fills` and
`control`. `collect()` gathers a plain snapshot; `render()` is a pure function of it, so the screen can
be tested with a recorded console.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from polydesk.settings import SERVICES
from shared.messages import (
    KillSwitchChanged,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskDecision,
)
from shared.mode import DRY_RUN, LIVE, PAPER, UNKNOWN, trading_mode
from shared.streams import APPROVED_ORDERS, CONTROL, FILLS, INTENTS, Bus, GroupStats

REFRESH_SECS = 0.25
MODE_STYLES = {
    LIVE: "bold white on red",
    PAPER: "bold white on blue",
    DRY_RUN: "bold black on yellow",
    UNKNOWN: "bold black on yellow",
}
DECISIONS = "decisions"
OPEN_STATUSES = {OrderStatus.LIVE, OrderStatus.DELAYED, OrderStatus.PENDING, OrderStatus.UNKNOWN}


@dataclass
class OpenOrder:
    order_id: str
    market: str
    side: str
    price: Decimal
    size: Decimal
    matched: Decimal
    status: str
    strategy: str | None


@dataclass
class DashboardState:
    """One snapshot of the pipeline, as plain data."""

    taken_at: float
    health: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # service -> live instances
    groups: list[GroupStats] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)  # newest first
    decisions: list[RiskDecision] = field(default_factory=list)  # newest first
    open_orders: list[OpenOrder] = field(default_factory=list)
    kill_switch: KillSwitchChanged | None = None
    # From the supervisor of `polydesk up` (absent under `polydesk dash`): per service its state
    # (running / restarting / gave up), restarts and the last error line it printed.
    supervised: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def risk_status(self) -> dict[str, Any]:
        instances = self.health.get("risk", [])
        return instances[0] if instances else {}

    @property
    def kill_switch_active(self) -> bool | None:
        """Risk's own report; without one, only an announced ON is believed (an announced off may be stale
        while risk is down, and "off" would look safer than "unknown")."""
        status = self.risk_status.get("kill_switch")
        if isinstance(status, dict) and "active" in status:
            return bool(status["active"])
        return True if self.kill_switch and self.kill_switch.active else None

    @property
    def mode(self) -> str:
        """PAPER / LIVE / DRY RUN as risk and the executor report them; UNKNOWN when one is silent."""
        dry_run = self.risk_status.get("dry_run")
        executors = self.health.get("executor", [])
        production = executors[0].get("production") if executors else None
        return trading_mode(
            dry_run if isinstance(dry_run, bool) else None,
            production if isinstance(production, bool) else None,
        )

    @property
    def venue(self) -> str:
        executors = self.health.get("executor", [])
        return str(executors[0].get("venue") or "unknown") if executors else "unknown"

    @property
    def kill_switch_reason(self) -> str:
        status = self.risk_status.get("kill_switch")
        if isinstance(status, dict) and status.get("reason"):
            return str(status["reason"])
        return self.kill_switch.reason if self.kill_switch else ""


def supervised_key(prefix: str) -> str:
    return f"{prefix}up:supervised"


async def collect(bus: Bus, *, recent: int = 10, order_scan: int = 2000) -> DashboardState:
    """Read one snapshot from Redis (a few cheap reads; safe to call every 250 ms)."""
    state = DashboardState(taken_at=time.time())
    state.health = await _health(bus)
    raw = await bus.redis.get(supervised_key(bus.prefix))  # written by a running `polydesk up`
    if raw:
        with contextlib.suppress(ValueError):
            state.supervised = json.loads(raw)
    for stream in (*_event_streams(state), INTENTS, APPROVED_ORDERS, FILLS, CONTROL):
        state.groups += await bus.group_stats(stream)
    state.intents = [m for m in await bus.newest(INTENTS, recent) if isinstance(m, OrderIntent)]
    state.decisions = [m for m in await bus.newest(DECISIONS, recent) if isinstance(m, RiskDecision)]
    state.open_orders = _open_orders(reversed(await bus.newest(FILLS, order_scan)))
    switches = [m for m in await bus.newest(CONTROL, 200) if isinstance(m, KillSwitchChanged)]
    state.kill_switch = switches[0] if switches else None
    return state


def _event_streams(state: DashboardState) -> list[str]:
    shards: set[str] = set()
    for instances in state.health.values():
        for instance in instances:
            shards.update(instance.get("shards", []) or [])
    return [f"events:{shard}" for shard in sorted(shards or {"main"})]


async def _health(bus: Bus) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {service: [] for service in SERVICES}
    async for key in bus.redis.scan_iter(match=f"{bus.prefix}health:*", count=500):
        raw = await bus.redis.get(key)
        if not raw:
            continue
        try:
            status = json.loads(raw)
        except ValueError:
            continue
        found.setdefault(str(status.get("service", "?")), []).append(status)
    return found


def _open_orders(messages_oldest_first: Any) -> list[OpenOrder]:
    latest: dict[str, OrderUpdate] = {}
    for message in messages_oldest_first:
        if isinstance(message, OrderUpdate):
            key = message.order_id or message.client_order_id or ""
            latest[key] = message
    return [
        OpenOrder(
            order_id=key,
            market=u.market,
            side=u.side.value,
            price=u.price,
            size=u.original_size,
            matched=u.size_matched,
            status=u.status.value,
            strategy=u.strategy,
        )
        for key, u in latest.items()
        if u.status in OPEN_STATUSES
    ]


# ---- rendering (pure) --------------------------------------------------------------------------------


def render(state: DashboardState) -> Layout:
    layout = Layout()
    layout.split_column(Layout(_header(state), size=3), Layout(name="body"))
    layout["body"].split_row(Layout(name="left"), Layout(name="right"))
    layout["left"].split_column(
        Layout(_pnl_panel(state), size=7), Layout(_orders_panel(state)), Layout(_streams_panel(state))
    )
    layout["right"].split_column(
        Layout(_health_panel(state), size=4 + len(state.health)),
        Layout(_signals_panel(state)),
        Layout(_decisions_panel(state)),
    )
    return layout


def _header(state: DashboardState) -> Panel:
    active = state.kill_switch_active
    if active:
        text = Text(
            f" KILL SWITCH ON: {state.kill_switch_reason or 'no reason given'} ", style="bold white on red"
        )
    elif active is False:
        text = Text(" kill switch off ", style="bold black on green")
    else:
        text = Text(" kill switch: UNKNOWN (risk not reporting) ", style="bold black on yellow")
    mode = state.mode
    mode_text = Text(f" {mode} ", style=MODE_STYLES[mode])
    clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.taken_at))
    return Panel(
        Group(
            Text.assemble(("polydesk  ", "bold"), mode_text, f" venue {state.venue}  ", text, f"   {clock}")
        ),
        padding=(0, 1),
    )


def _money(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)):+,.2f}"
    except ArithmeticError:
        return str(value)


def _pnl_panel(state: DashboardState) -> Panel:
    risk = state.risk_status
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right")
    table.add_column()
    for label, key in (
        ("realized today", "pnl_realized_usd"),
        ("unrealized", "pnl_unrealized_usd"),
        ("exposure", "exposure_usd"),
    ):
        table.add_row(label, _money(risk.get(key)))
    table.add_row("dry run", str(risk.get("dry_run", "-")))
    return Panel(table, title="PnL (USD)")


def _orders_panel(state: DashboardState) -> Panel:
    table = Table(expand=True, show_edge=False)
    for column in ("order", "market", "side", "price", "size", "matched", "status", "strategy"):
        table.add_column(column)
    for order in state.open_orders[:15]:
        table.add_row(
            order.order_id[:10],
            order.market[:10],
            order.side,
            str(order.price),
            str(order.size),
            str(order.matched),
            order.status,
            order.strategy or "-",
        )
    return Panel(table, title=f"open orders ({len(state.open_orders)})")


def _streams_panel(state: DashboardState) -> Panel:
    table = Table(expand=True, show_edge=False)
    for column in ("stream", "group", "lag", "pending", "consumers"):
        table.add_column(column)
    for g in state.groups:
        table.add_row(
            g.stream, g.group, "?" if g.lag is None else str(g.lag), str(g.pending), str(g.consumers)
        )
    return Panel(table, title="streams")


def _health_panel(state: DashboardState) -> Panel:
    table = Table(expand=True, show_edge=False)
    for column in ("service", "instances", "age", "status"):
        table.add_column(column)
    for service, instances in sorted(state.health.items()):
        supervised = state.supervised.get(service, {})
        if not instances:
            what = (
                str(supervised.get("state", "down")) if supervised.get("state") != "running" else "starting"
            )
            error = supervised.get("last_error")
            detail = f"restarts={supervised.get('restarts', 0)}: {error}" if error else "-"
            table.add_row(
                service,
                Text(what if what != "restarting" else "down", style="bold red"),
                "-",
                Text(detail, style="red", no_wrap=True, overflow="ellipsis"),
            )
            continue
        age = max(0.0, state.taken_at - min(float(i.get("ts", state.taken_at)) for i in instances))
        brief = _brief(instances[0])
        if supervised.get("restarts"):
            brief = {"restarts": supervised["restarts"], **brief}
        detail = ", ".join(f"{k}={v}" for k, v in brief.items() if v not in ("", None))
        table.add_row(
            service,
            Text(str(len(instances)), style="green"),
            f"{age:.1f}s",
            Text(detail, no_wrap=True, overflow="ellipsis"),
        )
    return Panel(table, title="services")


def _brief(status: dict[str, Any]) -> dict[str, Any]:
    hidden = {
        "service",
        "instance",
        "pid",
        "ts",
        "kill_switch",
        "pnl_realized_usd",
        "pnl_unrealized_usd",
        "exposure_usd",
    }
    return {k: v for k, v in status.items() if k not in hidden and not isinstance(v, dict | list)}


def _signals_panel(state: DashboardState) -> Panel:
    table = Table(expand=True, show_edge=False)
    for column in ("strategy", "side", "price", "size", "reason"):
        table.add_column(column)
    for intent in state.intents[:10]:
        table.add_row(
            intent.strategy, intent.side.value, str(intent.price), str(intent.size), intent.reason[:40]
        )
    return Panel(table, title="last signals (intents)")


def _decisions_panel(state: DashboardState) -> Panel:
    table = Table(expand=True, show_edge=False)
    for column in ("strategy", "decision", "rule", "size", "detail"):
        table.add_column(column)
    for d in state.decisions[:10]:
        verdict = Text("approved", style="green") if d.approved else Text("rejected", style="red")
        if d.dry_run:
            verdict = Text("dry run", style="yellow")
        table.add_row(
            d.strategy, verdict, d.rule or "-", f"{d.requested_size}->{d.approved_size}", d.detail[:40]
        )
    return Panel(table, title="last decisions")


# ---- the command -------------------------------------------------------------------------------------


async def run_dashboard(
    bus: Bus,
    stop: asyncio.Event,
    console: Console | None = None,
    supervised: Callable[[], dict[str, dict[str, Any]]] | None = None,
) -> None:
    """Redraw every 250 ms until `stop` is set; `supervised` gives the supervisor's view of each service."""
    with Live(console=console, refresh_per_second=1 / REFRESH_SECS, screen=False, transient=False) as live:
        while not stop.is_set():
            try:
                state = await collect(bus)
                if supervised is not None:
                    state.supervised = supervised()
                live.update(render(state))
            except Exception as error:  # noqa: BLE001  (a Redis hiccup must not kill the screen)
                live.update(Panel(Text(f"waiting for Redis: {error}", style="yellow")))
            try:
                await asyncio.wait_for(stop.wait(), timeout=REFRESH_SECS)
            except TimeoutError:
                pass


def main(argv: list[str]) -> int:
    from polydesk.common import cli_redis, settings_or_none
    from shared.config import ServiceSettings
    from shared.redis_conn import connect

    parser = argparse.ArgumentParser(prog="polydesk dash", description=__doc__)
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    args = parser.parse_args(argv)
    settings = settings_or_none(ServiceSettings, "polydesk dash")
    if settings is None:
        return 2

    async def run() -> None:
        client = connect(*cli_redis(settings))
        bus = Bus(client, prefix=settings.stream_prefix)
        try:
            if args.once:
                Console().print(render(await collect(bus)))
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            import signal

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_dashboard(bus, stop)
        finally:
            await client.aclose()

    asyncio.run(run())
    return 0
