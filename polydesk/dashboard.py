"""The terminal dashboard: `polydesk dashboard` attaches to a running pipeline; `polydesk up` shows it live.

`render(state)` draws a snapshot (polydesk/dashboard_data.py gathers it) at whatever size the terminal has:
the header (mode and venue as the services report them, kill switch, services) always, then the panels in
order of importance, each as tall as its content or the room left. A panel with no room collapses, and the
last line names what collapsed. From 120 columns and 30 lines, two columns.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from polydesk import dashboard_panels as p
from polydesk.dashboard_data import DashboardState, LedgerReader, collect, supervised_key
from shared.mode import DRY_RUN, LIVE, PAPER, UNKNOWN
from shared.streams import Bus

__all__ = ["DashboardState", "collect", "render", "run_dashboard", "supervised_key"]

REFRESH_SECS = 0.25
MODE_STYLES = {
    LIVE: "bold white on red",
    PAPER: "bold white on blue",
    DRY_RUN: "bold black on yellow",
    UNKNOWN: "bold black on yellow",
}
# Most important first: on a small screen the last ones collapse.
IMPORTANCE = (
    "account",
    "errors",
    "positions",
    "activity",
    "orders",
    "services",
    "streams",
    "signals",
    "decisions",
)
LEFT_COLUMN = ("account", "errors", "positions", "activity")
TWO_COLUMNS_FROM = (120, 30)  # width, height
HEADER_ROWS = 2
BORDER_ROWS = 2


@dataclass(frozen=True)
class Section:
    title: str
    body: Callable[[int], RenderableType]  # given the content rows it gets
    want: int  # content rows it would use
    least: int  # fewest content rows worth showing


def render(state: DashboardState) -> Screen:
    return Screen(state)


class Screen:
    """A snapshot laid out for the console it is drawn on (so a resized terminal gets a new plan)."""

    def __init__(self, state: DashboardState) -> None:
        self.state = state

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield layout(self.state, options.max_width, options.height or console.height)


def layout(state: DashboardState, width: int, height: int) -> Layout:
    sections = build_sections(state)
    two = width >= TWO_COLUMNS_FROM[0] and height >= TWO_COLUMNS_FROM[1]
    columns = [LEFT_COLUMN, tuple(n for n in IMPORTANCE if n not in LEFT_COLUMN)] if two else [IMPORTANCE]
    rows = height - HEADER_ROWS
    plans = [plan(sections, names, rows) for names in columns]
    if any(hidden for _, hidden in plans):  # room for the line that says what collapsed
        plans = [plan(sections, names, rows - 1) for names in columns]
    hidden = [name for _, names in plans for name in names]
    root = Layout()
    parts = [Layout(_header(state), size=HEADER_ROWS), Layout(name="body")]
    if hidden:
        parts.append(Layout(_collapsed(hidden), size=1))
    root.split_column(*parts)
    bodies = [_column(sections, placed) for placed, _ in plans]
    if len(bodies) == 1:
        root["body"].update(bodies[0])
    else:
        bodies[0].ratio = 3  # the money side is the wider one
        bodies[1].ratio = 2
        root["body"].split_row(*bodies)
    return root


def full_height(state: DashboardState) -> int:
    """The lines a one-column screen needs to show every panel whole."""
    return HEADER_ROWS + sum(s.want + BORDER_ROWS for s in build_sections(state).values())


def plan(
    sections: dict[str, Section], names: tuple[str, ...], rows: int
) -> tuple[list[tuple[str, int]], list[str]]:
    """([(section, content rows)], [collapsed sections]): in order, each gets what it wants or what is left."""
    placed: list[tuple[str, int]] = []
    hidden: list[str] = []
    left = rows
    for name in names:
        section = sections[name]
        if left - BORDER_ROWS >= section.least:
            content = min(section.want, left - BORDER_ROWS)
            placed.append((name, content))
            left -= content + BORDER_ROWS
        else:
            hidden.append(name)
    return placed, hidden


def _column(sections: dict[str, Section], placed: list[tuple[str, int]]) -> Layout:
    column = Layout()
    panels = [
        Layout(
            Panel(sections[name].body(rows), title=sections[name].title, title_align="left"), size=rows + 2
        )
        for name, rows in placed
    ]
    if panels:
        panels[-1].size = None  # the last one takes what is left
        column.split_column(*panels)
    return column


def _collapsed(hidden: list[str]) -> Text:
    return Text(f" no room for: {', '.join(hidden)}", style="dim", no_wrap=True, overflow="ellipsis")


# ---- header -----------------------------------------------------------------------------------------------


def _header(state: DashboardState) -> Text:
    active = state.kill_switch_active
    if active:
        switch = Text(
            f" KILL SWITCH ON: {state.kill_switch_reason or 'no reason given'} ", "bold white on red"
        )
    elif active is False:
        switch = Text(" kill switch off ", "bold black on green")
    else:
        switch = Text(" kill switch: UNKNOWN (risk not reporting) ", "bold black on yellow")
    clock = time.strftime("%H:%M:%S UTC", time.gmtime(state.taken_at))
    first = Text.assemble(
        ("polydesk ", "bold"),
        (f" {state.mode} ", MODE_STYLES[state.mode]),
        " ",
        switch,
        f" venue {state.venue}  {clock}",
    )
    second = Text.assemble(*_service_words(state))
    header = Text("\n").join([first, second])
    header.no_wrap, header.overflow = True, "ellipsis"
    return header


def _service_words(state: DashboardState) -> list[tuple[str, str] | str]:
    words: list[tuple[str, str] | str] = ["services:"]
    for service, instances in sorted(state.health.items()):
        supervised = state.supervised.get(service, {})
        restarts = supervised.get("restarts")
        note = f" ({restarts} restarts)" if restarts else ""
        if instances:
            words.append((f" {service} ok{note}", "green"))
        else:
            words.append((f" {service} {_down_word(supervised)}{note}", "bold red"))
    return words


def _down_word(supervised: dict[str, Any]) -> str:
    what = str(supervised.get("state", "down"))
    return "starting" if what == "running" else ("down" if what == "restarting" else what)


# ---- sections ---------------------------------------------------------------------------------------------


def build_sections(state: DashboardState) -> dict[str, Section]:
    errors = state.venue_errors
    tokens = state.ledger.tokens if state.ledger else []
    return {
        "account": Section("account (USD)", lambda rows: p.account(state, rows), want=3, least=1),
        "errors": Section(
            "exchange errors", lambda rows: p.errors(state, rows), want=max(1, len(errors or [])), least=1
        ),
        "positions": Section(
            f"positions ({len(tokens)})" if state.ledger else "positions",
            lambda rows: p.positions(state, rows),
            want=1 + max(1, len(tokens)),
            least=2,
        ),
        "activity": Section(
            "recent fills and rejections",
            lambda rows: p.activity(state, rows),
            want=1 + max(1, len(state.activity)),
            least=2,
        ),
        "orders": Section(
            f"open orders ({len(state.open_orders)})",
            lambda rows: p.orders(state, rows),
            want=1 + max(1, len(state.open_orders)),
            least=2,
        ),
        "services": Section(
            "services", lambda rows: p.services(state, rows), want=1 + len(state.health), least=2
        ),
        "streams": Section(
            "streams", lambda rows: p.streams(state, rows), want=1 + max(1, len(state.groups)), least=2
        ),
        "signals": Section(
            "last signals (intents)",
            lambda rows: p.signals(state, rows),
            want=1 + max(1, len(state.intents)),
            least=2,
        ),
        "decisions": Section(
            "last decisions",
            lambda rows: p.decisions(state, rows),
            want=1 + max(1, len(state.decisions)),
            least=2,
        ),
    }


# ---- the command ------------------------------------------------------------------------------------------


async def run_dashboard(
    bus: Bus,
    stop: asyncio.Event,
    console: Console | None = None,
    supervised: Callable[[], dict[str, dict[str, Any]]] | None = None,
    ledger_path: Path | None = None,
) -> None:
    """Redraw every 250 ms until `stop` is set; `supervised` gives the supervisor's view of each service,
    `ledger_path` is risk's ledger file (positions and cash)."""
    ledger = LedgerReader(ledger_path)
    with Live(console=console, refresh_per_second=1 / REFRESH_SECS, screen=False, transient=False) as live:
        while not stop.is_set():
            try:
                state = await collect(bus, ledger=ledger)
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
    from polydesk.positions import ledger_file
    from services.risk.config import RiskSettings
    from shared.redis_conn import connect

    parser = argparse.ArgumentParser(prog="polydesk dashboard", description=__doc__)
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    args = parser.parse_args(argv)
    settings = settings_or_none(RiskSettings, "polydesk dashboard")
    if settings is None:
        return 2
    ledger_path = ledger_file(settings)

    async def run() -> None:
        client = connect(*cli_redis(settings))
        bus = Bus(client, prefix=settings.stream_prefix)
        try:
            if args.once:
                state = await collect(bus, ledger=LedgerReader(ledger_path))
                console = Console()
                if not console.is_terminal:  # a pipe or a file: every panel, at full length
                    console = Console(width=console.width, height=full_height(state))
                console.print(render(state))
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            import signal

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_dashboard(bus, stop, ledger_path=ledger_path)
        finally:
            await client.aclose()

    asyncio.run(run())
    return 0
