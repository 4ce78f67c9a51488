"""What the dashboard shows, gathered as plain data: `collect()` reads one snapshot; rendering is elsewhere.

Sources, each as its owner publishes it: the services' health keys (risk: dry run, PnL, kill switch; the
executor: venue, tick-to-order latency, recent venue errors), the streams (`intents`, `decisions`, `fills`,
`control`), the supervisor's key of a running `polydesk up`, and risk's ledger read the way
`polydesk positions` reads it (polydesk/positions.py; no rule of the ledger is repeated here). Whatever is
not reported is None, and shown as unknown.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from polydesk.positions import read_ledger, report
from polydesk.settings import SERVICES
from shared.ledger import order_is_open
from shared.lifecycle import supervised_key
from shared.messages import (
    Fill,
    KillSwitchChanged,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskDecision,
)
from shared.mode import trading_mode
from shared.streams import APPROVED_ORDERS, CONTROL, FILLS, INTENTS, Bus, GroupStats

DECISIONS = "decisions"
LEDGER_READ_SECS = 1.0  # the ledger file is read at most this often (the screen redraws every 250 ms)


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


@dataclass(frozen=True)
class Activity:
    """One line of recent activity: a fill (its latest status) or a rejection (by risk or by the venue)."""

    ts: float  # unix seconds
    kind: str  # "fill" or "rejected"
    market: str  # condition id
    text: str


@dataclass
class LedgerSnapshot:
    """Risk's ledger as `polydesk positions` reports it (its `report()`, without the venue's side)."""

    tokens: list[dict[str, Any]]
    cash_usd: str | None  # None until the ledger adopted the venue's balance
    cash_pending_usd: str | None
    unrealized_usd: str | None
    realized_usd: str | None
    questions: dict[str, str]  # condition id -> question


class LedgerReader:
    """Reads risk's ledger file at most every LEDGER_READ_SECS; `path` None: there is none to read."""

    def __init__(self, path: Path | None, clock: Any = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._last: tuple[float, LedgerSnapshot | None, str | None] | None = None

    def read(self) -> tuple[LedgerSnapshot | None, str | None]:
        """(the ledger, None) or (None, why it could not be read)."""
        now = self._clock()
        if self._last is not None and now - self._last[0] < LEDGER_READ_SECS:
            return self._last[1], self._last[2]
        snapshot, error = self._read()
        self._last = (now, snapshot, error)
        return snapshot, error

    def _read(self) -> tuple[LedgerSnapshot | None, str | None]:
        if self.path is None:
            return None, "no ledger file known"
        try:
            view = read_ledger(self.path)
        except (FileNotFoundError, sqlite3.Error) as error:
            return None, str(error)
        result = report(view, None)
        return (
            LedgerSnapshot(
                tokens=result["tokens"],
                cash_usd=result["cash_ledger"],
                cash_pending_usd=result["cash_pending"],
                unrealized_usd=result["unrealized_pnl"],
                realized_usd=result["realized_pnl"],
                questions=view.questions,
            ),
            None,
        )


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
    ledger: LedgerSnapshot | None = None
    ledger_error: str | None = "not read"
    activity: list[Activity] = field(default_factory=list)  # newest first
    intent_markets: dict[str, str] = field(default_factory=dict)  # intent id -> condition id

    @property
    def risk_status(self) -> dict[str, Any]:
        instances = self.health.get("risk", [])
        return instances[0] if instances else {}

    @property
    def executor_status(self) -> dict[str, Any] | None:
        """The executor's health key; None when no executor reports."""
        instances = self.health.get("executor", [])
        return instances[0] if instances else None

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
        production = (self.executor_status or {}).get("production")
        return trading_mode(
            dry_run if isinstance(dry_run, bool) else None,
            production if isinstance(production, bool) else None,
        )

    @property
    def venue(self) -> str:
        return str((self.executor_status or {}).get("venue") or "unknown")

    @property
    def kill_switch_reason(self) -> str:
        status = self.risk_status.get("kill_switch")
        if isinstance(status, dict) and status.get("reason"):
            return str(status["reason"])
        return self.kill_switch.reason if self.kill_switch else ""

    @property
    def tick_to_order_ms(self) -> dict[str, Any] | None:
        """The executor's latency summary (n, last, p50, p90, max in ms); None when unknown or no order yet."""
        summary = (self.executor_status or {}).get("tick_to_order_ms")
        return summary if isinstance(summary, dict) else None

    @property
    def venue_errors(self) -> list[dict[str, Any]] | None:
        """Recent venue errors, newest first, with a halted submission first; None when the executor is silent."""
        status = self.executor_status
        if status is None:
            return None
        errors = [e for e in status.get("venue_errors") or [] if isinstance(e, dict)][::-1]
        if status.get("halted_reason"):
            errors.insert(
                0, {"ts": status.get("ts"), "type": "halted", "error": str(status["halted_reason"])}
            )
        return errors

    def market_name(self, condition_id: str) -> str:
        """The market's question when the ledger knows it, else its condition id."""
        question = self.ledger.questions.get(condition_id) if self.ledger else None
        return question or condition_id


async def collect(
    bus: Bus,
    *,
    ledger: LedgerReader | None = None,
    recent: int = 10,
    order_scan: int = 2000,
) -> DashboardState:
    """Read one snapshot from Redis and the ledger (a few cheap reads; safe to call every 250 ms)."""
    state = DashboardState(taken_at=time.time())
    state.health = await _health(bus)
    raw = await bus.redis.get(supervised_key(bus.prefix))  # written by a running `polydesk up`
    if raw:
        with contextlib.suppress(ValueError):
            state.supervised = json.loads(raw)
    for stream in (*_event_streams(state), INTENTS, APPROVED_ORDERS, FILLS, CONTROL):
        state.groups += await bus.group_stats(stream)
    intents = [m for m in await bus.newest(INTENTS, 200) if isinstance(m, OrderIntent)]
    state.intents = intents[:recent]
    state.intent_markets = {i.envelope.message_id: i.market for i in intents}
    state.decisions = [m for m in await bus.newest(DECISIONS, 50) if isinstance(m, RiskDecision)]
    fills_stream = list(reversed(await bus.newest(FILLS, order_scan)))  # oldest first
    state.open_orders = _open_orders(fills_stream)
    state.activity = recent_activity(fills_stream, state.decisions, state.intent_markets)[: recent * 2]
    state.decisions = state.decisions[:recent]
    switches = [m for m in await bus.newest(CONTROL, 200) if isinstance(m, KillSwitchChanged)]
    state.kill_switch = switches[0] if switches else None
    if ledger is not None:
        state.ledger, state.ledger_error = ledger.read()
    return state


def recent_activity(
    fills_oldest_first: list[Message], decisions: list[RiskDecision], intent_markets: dict[str, str]
) -> list[Activity]:
    """Fills (one line per fill part, at its latest status, timed when first seen) and rejections by risk
    and by the venue, newest first."""
    parts: dict[tuple[str, str], tuple[float, Fill]] = {}
    rows: list[Activity] = []
    for message in fills_oldest_first:
        if isinstance(message, Fill):
            key = (message.trade_id, message.order_id)
            first_seen = parts[key][0] if key in parts else _ts(message)
            parts[key] = (first_seen, message)
        elif isinstance(message, OrderUpdate) and message.status is OrderStatus.REJECTED:
            rows.append(
                Activity(
                    _ts(message),
                    "rejected",
                    message.market,
                    f"venue: {message.side.value} {message.original_size} @ {message.price} "
                    f"{message.reason or ''}".strip(),
                )
            )
    for ts, fill in parts.values():
        fee = f" fee {fill.fee_usd}" if fill.fee_usd else ""
        rows.append(
            Activity(
                ts,
                "fill",
                fill.market,
                f"{fill.side.value} {fill.size} @ {fill.price} {fill.status.value}{fee} ({fill.strategy or '-'})",
            )
        )
    for d in decisions:
        if not d.approved and not d.dry_run:
            rows.append(
                Activity(
                    _ts(d),
                    "rejected",
                    intent_markets.get(d.intent_id, ""),
                    f"risk {d.rule or '-'}: {d.detail} ({d.strategy})",
                )
            )
    return sorted(rows, key=lambda row: row.ts, reverse=True)


def _ts(message: Message) -> float:
    return message.envelope.created_ts_ns / 1e9


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


def _open_orders(messages_oldest_first: list[Message]) -> list[OpenOrder]:
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
        if order_is_open(u.status, u.original_size, u.size_matched)
    ]
