"""What a backtest produced, read from its Redis streams once the run is over: our fills (every status the
executor reported, in order), the venue's refusals and risk's rejections. Times are the messages' own
(envelope creation), which in a backtest is the tape's clock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.errors import DecodeError
from shared.messages import Fill, Message, OrderStatus, OrderUpdate, RiskDecision, decode
from shared.streams import Bus
from shared.streams.base import as_text, raw_entries

UNATTRIBUTED = "unattributed"


@dataclass(frozen=True)
class Rejection:
    ts_ms: int
    strategy: str
    source: str  # risk (a rule refused the intent) or venue (the exchange refused the order)
    reason: str
    market: str
    detail: str
    requested_size: Decimal


@dataclass
class Collected:
    fills: list[Fill]
    rejections: list[Rejection]


def ts_ms(message: Fill | OrderUpdate | RiskDecision) -> int:
    return message.envelope.created_ts_ns // 1_000_000


async def _messages(bus: Bus, stream: str) -> list[Message]:
    out: list[Message] = []
    after = "-"
    while True:
        entries = raw_entries(await bus.redis.xrange(bus.key(stream), min=after, max="+", count=1000))
        if not entries:
            return out
        for _, fields in entries:
            try:
                out.append(decode(fields))
            except DecodeError:
                continue  # dead-lettered by the services already; not ours to count again
        after = "(" + as_text(entries[-1][0])


async def collect(bus: Bus) -> Collected:
    fills: list[Fill] = []
    rejections: list[Rejection] = []
    for message in await _messages(bus, "fills"):
        if isinstance(message, Fill):
            fills.append(message)
        elif isinstance(message, OrderUpdate) and message.status is OrderStatus.REJECTED:
            rejections.append(
                Rejection(
                    ts_ms(message),
                    message.strategy or UNATTRIBUTED,
                    "venue",
                    message.reason.split(":")[0][:80] or "rejected",
                    message.market,
                    message.reason,
                    message.original_size,
                )
            )
    for message in await _messages(bus, "decisions"):
        if isinstance(message, RiskDecision) and not message.approved:
            rejections.append(
                Rejection(
                    ts_ms(message),
                    message.strategy or UNATTRIBUTED,
                    "risk",
                    message.rule or "rejected",
                    "",
                    message.detail,
                    message.requested_size,
                )
            )
    rejections.sort(key=lambda r: (r.ts_ms, r.strategy, r.source, r.reason, r.detail))
    return Collected(fills, rejections)
