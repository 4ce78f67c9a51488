"""What is worth telling a person, as pure functions: a bus message, an event-log line or risk's reported PnL
in, a Note (or nothing) out. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.messages import (
    Fill,
    KillSwitchChanged,
    Message,
    TradeStatus,
    VerdictDecided,
    VerdictPending,
)

# Event-log types (logs/events-*.jsonl) that become notes; everything else in the log is not.
LOGGED_KINDS = ("service_restarted", "service_gave_up", "reconcile_difference", "preflight")


@dataclass(frozen=True)
class Note:
    kind: str  # fill, kill_switch, loss_warning, service_restarted, reconcile_difference, preflight_failed, verdict_*
    text: str
    verdict_id: str | None = None  # a pending verdict: sent alone, with approve/reject buttons
    data: dict[str, Any] = field(default_factory=dict)


def _short(value: str, width: int = 12) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def from_message(message: Message) -> Note | None:
    """A note for a message on `fills`, `control` or `verdicts`; None for the rest."""
    if isinstance(message, Fill):
        if message.status not in (TradeStatus.MATCHED, TradeStatus.FAILED):
            return None  # one note per trade when it matches, and one more only if it fails
        what = "FAILED trade" if message.status == TradeStatus.FAILED else "fill"
        return Note(
            "fill",
            f"{what}: {message.side.value} {message.size} @ {message.price} "
            f"({message.strategy or 'no strategy'}, market {_short(message.market)})",
            data={"trade_id": message.trade_id, "status": message.status.value},
        )
    if isinstance(message, KillSwitchChanged):
        state = "TRIPPED" if message.active else "released"
        return Note("kill_switch", f"kill switch {state}: {message.reason} ({message.actor})")
    if isinstance(message, VerdictPending):
        return Note(
            "verdict_pending",
            f"verdict waiting for approval: {message.question or message.market} — p={message.probability} "
            f"from {message.source} on token {_short(message.token_id)}; id {message.verdict_id}",
            verdict_id=message.verdict_id,
            data={"expires_at_ts": message.expires_at_ts},
        )
    if isinstance(message, VerdictDecided):
        return Note(
            "verdict_decided", f"verdict {message.verdict_id} {message.state.value} ({message.actor})"
        )
    return None


def from_event(event: dict[str, Any]) -> Note | None:
    """A note for an event-log line (what `up`'s supervisor, risk and the executor write); None for the rest."""
    kind = event.get("type")
    if kind == "service_restarted":
        return Note(
            "service_restarted",
            f"{event.get('child')} exited ({event.get('exit_code')}) and restarts "
            f"(restart {event.get('restarts')}): {event.get('last_error') or 'no error printed'}",
        )
    if kind == "service_gave_up":
        return Note(
            "service_restarted",
            f"{event.get('child')} failed {event.get('failures')} times in a row; polydesk up gives up: "
            f"{event.get('last_error') or 'no error printed'}",
        )
    if kind == "reconcile_difference":
        return Note(
            "reconcile_difference",
            f"ledger and venue differ ({event.get('kind')} {_short(str(event.get('token_id') or ''))}, "
            f"{event.get('source')}): ledger {event.get('ledger')}, venue {event.get('venue')}",
        )
    if kind == "preflight":
        bad = [c for c in event.get("checks", []) if c.get("status") in ("FAIL", "SKIP")]
        if not bad:
            return None
        return Note(
            "preflight_failed",
            "preflight failed, not trading: " + "; ".join(f"{c.get('name')}: {c.get('detail')}" for c in bad),
        )
    return None


def restarts(before: dict[tuple[str, str], object], now: dict[tuple[str, str], object]) -> list[Note]:
    """A note for each service slot (service, instance) whose health key shows a pid other than before."""
    return [
        Note("service_restarted", f"{service} ({instance}) restarted: pid {before[slot]} -> {pid}")
        for slot, pid in sorted(now.items())
        for service, instance in (slot,)
        if slot in before and pid != before[slot]
    ]


def loss_levels_reached(status: dict[str, Any], warn_pcts: tuple[int, ...]) -> tuple[Decimal, list[int]]:
    """(today's loss in USD, the warning levels it has reached) from risk's reported status: realized plus
    unrealized PnL against `max_daily_loss_usd`. Nothing reported, nothing reached."""
    try:
        pnl = Decimal(str(status["pnl_realized_usd"])) + Decimal(str(status["pnl_unrealized_usd"]))
        limit = Decimal(str(status["max_daily_loss_usd"]))
    except (KeyError, InvalidOperation):
        return Decimal(0), []
    loss = -pnl
    if limit <= 0 or loss <= 0:
        return max(loss, Decimal(0)), []
    return loss, [pct for pct in warn_pcts if loss >= limit * pct / 100]


def loss_note(loss: Decimal, limit: Decimal, pct: int) -> Note:
    return Note(
        "loss_warning",
        f"daily loss {loss:.2f} USD has reached {pct}% of the {limit} USD limit "
        "(at 100% risk trips the kill switch)",
        data={"pct": pct},
    )
