"""Stream names, the records the bus hands out, and small helpers its modules share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from shared import messages as m
from shared.messages import Message

# Logical stream names; keys in Redis get the bus prefix.
EVENTS = "events"
SIGNALS = "signals"
INTENTS = "intents"
APPROVED_ORDERS = "approved_orders"
FILLS = "fills"
CONTROL = "control"
VERDICTS = "verdicts"
DEAD_SUFFIX = ":dead"


# The message types each stream carries (by its logical name; `events:<shard>` by its family). A consumer
# dead-letters an entry of any other type ("wrong type for this stream") instead of acknowledging it
# unread. A new message type is added here with the stream it travels on (a test checks every registered
# type belongs to one).
MARKET_EVENTS: frozenset[type[Message]] = frozenset(
    {
        m.BookSnapshot,
        m.BookDelta,
        m.BookStatus,
        m.LastTrade,
        m.TradeSeen,
        m.MarketDiscovered,
        m.MarketUpdated,
        m.MarketResolved,
        m.TickSizeChanged,
        m.AccountState,
    }
)
STREAM_TYPES: dict[str, frozenset[type[Message]]] = {
    EVENTS: MARKET_EVENTS,
    SIGNALS: frozenset({m.ExternalSignal, m.VerdictDecision}),
    INTENTS: frozenset({m.OrderIntent, m.CancelIntent, m.CancelIntentV2, m.BasketIntent}),
    APPROVED_ORDERS: frozenset({m.ApprovedOrder, m.ApprovedCancel, m.ApprovedCancelV2, m.ApprovedBasket}),
    FILLS: frozenset({m.OrderUpdate, m.Fill, m.PositionRedeemed}),
    # TickSizeChanged also here: the executor reads control, and queued approvals must follow a tick at once.
    CONTROL: frozenset(
        {m.KillSwitchChanged, m.CancelAllRequested, m.KillSwitchCommand, m.ShutdownNotice, m.TickSizeChanged}
    ),
    "decisions": frozenset({m.RiskDecision}),
    VERDICTS: frozenset({m.VerdictPending, m.VerdictDecided}),
}
# An entry's payload larger than this is dead-lettered unread: the largest legitimate message, a book of
# MAX_BOOK_LEVELS levels a side, is about 1 MB; a 33 MB "book" once took each consumer to ~940 MB.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def accepted_types(stream: str) -> frozenset[type[Message]] | None:
    """The message types `stream` carries; None for a stream this map does not know (anything goes)."""
    return STREAM_TYPES.get(stream.split(":", 1)[0] if stream.startswith(EVENTS + ":") else stream)


def events_stream(shard: str) -> str:
    """The logical events stream of one market set."""
    return f"{EVENTS}:{shard}"


def dead_letter_stream(stream: str) -> str:
    return stream + DEAD_SUFFIX


class Output(NamedTuple):
    """One message a handler wants written, to a logical stream."""

    stream: str
    message: Message


@dataclass(frozen=True, slots=True)
class Delivery:
    """One decoded entry handed to a handler."""

    stream: str
    entry_id: str
    message: Message
    deliveries: int


Handler = Callable[[Delivery], Awaitable[Sequence[Output]]]


@dataclass(frozen=True)
class GroupStats:
    stream: str
    group: str
    consumers: int
    pending: int
    lag: int | None  # entries not yet delivered to the group; None when it cannot be told
    last_delivered_id: str


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    source_stream: str
    source_id: str
    group: str
    error: str
    deliveries: int
    fields: dict[str, bytes]


async def sleep_unless(event: asyncio.Event, secs: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=secs)
    except TimeoutError:
        pass


# redis-py types a reply for both client modes (bytes, or str when it decodes) and as optional; polydesk's
# clients never decode, so replies are read through these, which say what they are.
RawFields = dict[bytes, bytes]


def raw_entries(reply: Any) -> list[tuple[bytes, RawFields]]:
    """The (id, fields) entries of an XRANGE / XREVRANGE / XREADGROUP stream reply ([] for none)."""
    return list(reply or [])


def xadd_fields(fields: Any) -> dict[Any, Any]:
    """Entry fields for XADD: bytes or str names and values (redis-py's parameter type is invariant)."""
    return cast("dict[Any, Any]", fields)


def as_text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def metric_label(stream: str) -> str:
    # Shards are a bounded, configured set, so `events:<shard>` stays a bounded label.
    return stream


def dead_letter_from(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    text = {k.decode(errors="replace"): v for k, v in fields.items()}  # field names may be any bytes
    return DeadLetter(
        entry_id=entry_id.decode(),
        source_stream=text.get("source_stream", b"").decode(),
        source_id=text.get("source_id", b"").decode(),
        group=text.get("group", b"").decode(),
        error=text.get("error", b"").decode(errors="replace"),
        deliveries=int(text.get("deliveries", b"0")),
        fields=text,
    )
