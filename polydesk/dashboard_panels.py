"""The dashboard's panels: each a pure function of the snapshot and the rows it may use (one line per row)."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from polydesk.dashboard_data import DashboardState

WIDE_MIN = 14  # the column that takes the spare width (a market's question) keeps at least this much
_HIDDEN_HEALTH = {
    "service",
    "instance",
    "pid",
    "ts",
    "kill_switch",
    "pnl_realized_usd",
    "pnl_unrealized_usd",
    "exposure_usd",
    "max_daily_loss_usd",
    "tick_to_order_ms",
    "venue_errors",
}


def money(value: Any) -> str:
    """Signed USD with cents; "unknown" for None (never a zero that was not reported)."""
    if value is None:
        return "unknown"
    try:
        return f"{Decimal(str(value)):+,.2f}"
    except ArithmeticError:
        return str(value)


def _table(*columns: str, wide: tuple[str, ...] = ()) -> Table:
    """A borderless table whose cells never wrap (a row is one line); the `wide` ones share the spare width."""
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        if column in wide:
            table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=1, min_width=WIDE_MIN)
        else:
            table.add_column(column, no_wrap=True, overflow="ellipsis")
    return table


def _lines(lines: list[Text], rows: int) -> Text:
    """At most `rows` lines, each cut (not wrapped) at the panel's width."""
    text = Text("\n").join(lines[: max(rows, 1)])
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def _clock(ts: Any) -> str:
    try:
        return time.strftime("%H:%M:%S", time.gmtime(float(ts)))
    except (TypeError, ValueError):
        return "--:--:--"


def _shares(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return "unknown" if value is None else str(value)


def account(state: DashboardState, rows: int) -> RenderableType:
    ledger = state.ledger
    if ledger is None:
        held = Text(f"cash, positions: unknown (ledger: {state.ledger_error})", style="yellow")
    else:
        cash = (
            "unknown (not adopted from the venue yet)" if ledger.cash_usd is None else money(ledger.cash_usd)
        )
        held = Text(
            f"cash {cash} (pending {money(ledger.cash_pending_usd)})   "
            f"unrealized {money(ledger.unrealized_usd)}   realized {money(ledger.realized_usd)}"
        )
    risk = state.risk_status
    if risk:
        today = Text(
            f"today (risk): realized {money(risk.get('pnl_realized_usd'))}   unrealized "
            f"{money(risk.get('pnl_unrealized_usd'))}   exposure {money(risk.get('exposure_usd'))}"
        )
    else:
        today = Text("today: unknown (risk not reporting)", style="yellow")
    return _lines([held, today, _latency(state)], rows)


def _latency(state: DashboardState) -> Text:
    if state.executor_status is None:
        return Text("tick-to-order: unknown (executor not reporting)", style="yellow")
    summary = state.tick_to_order_ms
    if summary is None:
        return Text("tick-to-order: no order posted yet")
    return Text(
        f"tick-to-order: p50 {summary.get('p50_ms')} ms   p90 {summary.get('p90_ms')} ms   max "
        f"{summary.get('max_ms')} ms   last {summary.get('last_ms')} ms   (n={summary.get('n')})"
    )


def errors(state: DashboardState, rows: int) -> RenderableType:
    found = state.venue_errors
    if found is None:
        return _lines([Text("unknown (executor not reporting)", style="yellow")], rows)
    if not found:
        return _lines([Text("none", style="green")], rows)
    return _lines(
        [Text(f"{_clock(e.get('ts'))}  {e.get('type')}: {e.get('error')}", style="red") for e in found], rows
    )


def positions(state: DashboardState, rows: int) -> RenderableType:
    if state.ledger is None:
        return _lines([Text(f"unknown (ledger: {state.ledger_error})", style="yellow")], rows)
    if not state.ledger.tokens:
        return _lines([Text("no positions")], rows)
    table = _table("market", "outcome", "settled", "prov.", "avg", "mark", "unreal.", wide=("market",))
    for token in state.ledger.tokens[: rows - 1]:
        table.add_row(
            token["question"] or token["market"],
            token["outcome"] or "-",
            _shares(token["settled"]),
            _shares(token["provisional"]),
            _shares(token["avg_price"]),
            token["mark"] or "unknown",
            money(token["unrealized_usd"]),
        )
    return table


def activity(state: DashboardState, rows: int) -> RenderableType:
    if not state.activity:
        return _lines([Text("no fills or rejections yet")], rows)
    table = _table("time", "what", "market", "detail", wide=("market", "detail"))
    for row in state.activity[: rows - 1]:
        what = Text(row.kind, style="green" if row.kind == "fill" else "red")
        table.add_row(_clock(row.ts), what, state.market_name(row.market) or "-", row.text)
    return table


def orders(state: DashboardState, rows: int) -> RenderableType:
    if not state.open_orders:
        return _lines([Text("none")], rows)
    table = _table("market", "side", "price", "size", "matched", "status", "strategy", wide=("market",))
    for order in state.open_orders[: rows - 1]:
        table.add_row(
            state.market_name(order.market),
            order.side,
            str(order.price),
            str(order.size),
            str(order.matched),
            order.status,
            order.strategy or "-",
        )
    return table


def services(state: DashboardState, rows: int) -> RenderableType:
    table = _table("service", "instances", "age", "status", wide=("status",))
    for service, instances in sorted(state.health.items())[: rows - 1]:
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
                Text(detail, "red"),
            )
            continue
        age = max(0.0, state.taken_at - min(float(i.get("ts", state.taken_at)) for i in instances))
        brief = {
            k: v
            for k, v in instances[0].items()
            if k not in _HIDDEN_HEALTH and not isinstance(v, dict | list)
        }
        if supervised.get("restarts"):
            brief = {"restarts": supervised["restarts"], **brief}
        detail = ", ".join(f"{k}={v}" for k, v in brief.items() if v not in ("", None))
        table.add_row(service, Text(str(len(instances)), style="green"), f"{age:.1f}s", detail)
    return table


def streams(state: DashboardState, rows: int) -> RenderableType:
    table = _table("stream", "group", "lag", "pending", "consumers", wide=("group",))
    for g in state.groups[: rows - 1]:
        table.add_row(
            g.stream, g.group, "?" if g.lag is None else str(g.lag), str(g.pending), str(g.consumers)
        )
    return table


def signals(state: DashboardState, rows: int) -> RenderableType:
    table = _table("strategy", "side", "price", "size", "reason", wide=("reason",))
    for intent in state.intents[: rows - 1]:
        table.add_row(intent.strategy, intent.side.value, str(intent.price), str(intent.size), intent.reason)
    return table


def decisions(state: DashboardState, rows: int) -> RenderableType:
    table = _table("strategy", "decision", "rule", "size", "detail", wide=("detail",))
    for d in state.decisions[: rows - 1]:
        verdict = Text("approved", style="green") if d.approved else Text("rejected", style="red")
        if d.dry_run:
            verdict = Text("dry run", style="yellow")
        table.add_row(d.strategy, verdict, d.rule or "-", f"{d.requested_size}->{d.approved_size}", d.detail)
    return table
