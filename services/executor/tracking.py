"""Order and trade events (user WebSocket, REST reconciliation) -> the store and OrderUpdate / Fill on `fills`.

Each report is published once: its key (order hash + kind + status + matched size; trade id + order id +
status) goes into a Redis seen set by the same script that XADDs it (then into the store), and the message
id is derived from the same key, so a replay is idempotent downstream too. A trade first seen at a later status (after a gap) gets the earlier statuses of
its chain published before it, so consumers always see MATCHED before MINED before CONFIRMED.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from redis.exceptions import RedisError

from services.executor.fees import FeeSchedules
from services.executor.orders import UNRESOLVED_STATUSES, OrderRow, OrderStore
from services.executor.venue import MakerFill, VenueOrder, VenueTrade
from shared import metrics
from shared.logging import EventLog, fill_event_fields
from shared.messages import (
    Envelope,
    Fill,
    OrderEventKind,
    OrderStatus,
    OrderUpdate,
    Side,
    TradeStatus,
    deterministic_id,
)
from shared.streams import FILLS, Bus, Output

log = logging.getLogger(__name__)
PRODUCER = "executor"
REPORTED_KEY = "fills:reported"  # sorted set of report keys already on `fills` (score: when), kept a week
REPORTED_RETAIN_SECS = 7 * 86400.0
PRICE_QUANTUM = Decimal("0.000001")  # a taker's average price over several makers, to 6 places

# Venue order status -> ours (habit 10: mappings are data; a test checks every known venue value).
VENUE_ORDER_STATUS: dict[str, OrderStatus] = {
    "LIVE": OrderStatus.LIVE,
    "MATCHED": OrderStatus.MATCHED,
    "DELAYED": OrderStatus.DELAYED,
    "UNMATCHED": OrderStatus.LIVE,  # marketable, delay over, placed on the book
    "CANCELED": OrderStatus.CANCELED,
    "CANCELED_MARKET_RESOLVED": OrderStatus.CANCELED,
    "CANCELED_NOT_ENOUGH_BALANCE": OrderStatus.CANCELED,
    "CANCELED_MARKET_NOT_FOUND": OrderStatus.CANCELED,
    "CANCELED_EXPIRED_ORDER": OrderStatus.EXPIRED,
    "CANCELED_ORDER_TIMED_OUT": OrderStatus.CANCELED,
    "INVALID": OrderStatus.REJECTED,
}
POST_STATUS: dict[str, OrderStatus] = {
    "live": OrderStatus.LIVE,
    "matched": OrderStatus.MATCHED,
    "delayed": OrderStatus.DELAYED,
}
# The statuses published before a trade's first-seen status, so the chain is always complete downstream.
TRADE_CHAIN: dict[str, tuple[TradeStatus, ...]] = {
    "MATCHED": (TradeStatus.MATCHED,),
    "MINED": (TradeStatus.MATCHED, TradeStatus.MINED),
    "CONFIRMED": (TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED),
    "RETRYING": (TradeStatus.MATCHED, TradeStatus.RETRYING),
    "FAILED": (TradeStatus.MATCHED, TradeStatus.FAILED),
}
ORDER_KINDS = {
    "PLACEMENT": OrderEventKind.PLACEMENT,
    "UPDATE": OrderEventKind.UPDATE,
    "CANCELLATION": OrderEventKind.CANCELLATION,
    "RECONCILED": OrderEventKind.RECONCILED,
}


def venue_status(status: str, *, size_matched: Decimal, original_size: Decimal) -> OrderStatus:
    """Our status for a venue status; a fully matched order is MATCHED whatever the venue word."""
    mapped = VENUE_ORDER_STATUS.get(status.upper())
    if mapped is None:
        log.warning("unknown venue order status %r: kept as LIVE", status)
        mapped = OrderStatus.LIVE
    if mapped is OrderStatus.LIVE and original_size > 0 and size_matched >= original_size:
        return OrderStatus.MATCHED
    return mapped


NEVER_RESTS = frozenset({"FOK", "FAK"})


class Reporter:
    """Turns venue facts into store updates and bus reports, each exactly once."""

    def __init__(
        self, store: OrderStore, bus: Bus, events: EventLog, api_key: str, fees: FeeSchedules | None = None
    ) -> None:
        self.store = store
        self.bus = bus
        self.events = events
        self.api_key = api_key
        self.fees = fees
        # Called with (client order id, phase, size matched) when a PENDING / UNKNOWN order is found.
        self.on_resolved: Callable[[str, int, Decimal], Awaitable[None]] | None = None
        self.malformed = 0  # venue events that could not become reports (dead-lettered to fills:dead)

    async def _malformed(self, event: VenueOrder | VenueTrade, via: str, reason: str) -> None:
        """Count, log and dead-letter an event the bus contract refuses (e.g. a price above 1); the stream
        goes on: raising would end the user stream and drop its subscription."""
        self.malformed += 1
        log.warning(
            "malformed %s event %s via %s: %s; dead-lettered", type(event).__name__, event.id, via, reason
        )
        raw = repr(event).encode("utf-8", "backslashreplace")[: 64 * 1024]
        try:
            await self.bus.dead_letter(FILLS, raw, reason, source=via)
        except (RedisError, OSError) as error:
            log.warning("dead letter not written: %s", error)

    async def publish(self, keyed: Sequence[tuple[str, Output]]) -> None:
        """Each report once, in order: Redis decides (one script adds the key to a seen set and XADDs, or does
        nothing when the key is there), then the store remembers it, to skip the round trip next time. Marking
        the store first lost a report to a crash (or a cancel) before the XADD; forgetting the mark after a
        failed reply duplicated one whose XADD had landed."""
        for key, output in keyed:
            if self.store.published(key):
                continue
            now = time.time()
            await self.bus.publish_once(
                output.stream,
                output.message,
                seen_key=REPORTED_KEY,
                member=key,
                score=now,
                prune_below=now - REPORTED_RETAIN_SECS,
            )
            self.store.first_time(key)

    def order_update(self, row: OrderRow, kind: OrderEventKind, reason: str = "") -> tuple[str, Output]:
        status = row.status
        if row.order_type in NEVER_RESTS and status is OrderStatus.MATCHED and row.size_matched < row.size:
            # A FOK/FAK order never rests: the venue killed what did not match at once. Reported as MATCHED
            # with size left, risk and strategy counted that rest as a resting order of ours for good.
            status = OrderStatus.CANCELED
        key = f"order:{row.order_hash}:{kind.value}:{status.value}:{row.size_matched}"
        message = OrderUpdate(
            envelope=Envelope.new(PRODUCER, message_id=deterministic_id(key)),
            client_order_id=row.client_order_id,
            order_id=row.order_hash,
            kind=kind,
            status=status,
            market=row.market,
            token_id=row.token_id,
            side=Side(row.side),
            price=row.price,
            original_size=row.size,
            size_matched=row.size_matched,
            strategy=row.strategy,
            reason=reason or row.reason,
        )
        return key, Output(FILLS, message)

    async def on_order(self, event: VenueOrder, *, via: str = "user_stream") -> None:
        """An order event (user stream) or an order read over REST (kind RECONCILED)."""
        try:  # checked against the bus contract before the store adopts anything from it
            OrderUpdate(
                envelope=Envelope.new(PRODUCER),
                kind=OrderEventKind.UPDATE,
                status=OrderStatus.LIVE,
                market=event.market,
                token_id=event.token_id,
                side=Side(event.side),
                price=event.price,
                original_size=event.original_size,
                size_matched=event.size_matched,
            )
        except ValueError as error:  # MessageError included (a bus bound refused it)
            await self._malformed(event, via, str(error))
            return
        status = venue_status(
            event.status, size_matched=event.size_matched, original_size=event.original_size
        )
        if event.kind == "CANCELLATION" and status not in (OrderStatus.EXPIRED, OrderStatus.REJECTED):
            status = OrderStatus.CANCELED
        row = self.store.order(event.id)
        was_unresolved = row is not None and row.status in UNRESOLVED_STATUSES
        # `delayed` (a taker-delay market): the order's outcome comes later, as an UPDATE or a CANCELLATION.
        was_delayed = row is not None and row.status is OrderStatus.DELAYED
        if row is None:
            row = OrderRow(
                event.id,
                None,
                0,
                status,
                event.side,
                event.token_id,
                event.market,
                event.price,
                event.original_size,
                event.size_matched,
                event.order_type,
                None,
                "adopted",
                0.0,
                0.0,
            )
            self.store.adopt(row)
        # Reported before the store moves on: a crash between the two used to leave the store at the new
        # status with its report never sent (nothing differs any more for the gap fill to notice). Now a
        # crash there only makes the next pass report it again, under the same key when it is the same event.
        changed = dataclasses.replace(row, status=status, size_matched=event.size_matched)
        await self.publish([self.order_update(changed, ORDER_KINDS.get(event.kind, OrderEventKind.UPDATE))])
        row = self.store.update_order(event.id, status, size_matched=event.size_matched) or changed
        if was_unresolved:
            self.events.emit(
                "unknown_resolved",
                client_order_id=row.client_order_id,
                order_hash=row.order_hash,
                status=row.status,
                found=True,
                via=via,
            )
            # Found DELAYED: its outcome is still to come (the branch below takes it then).
            if row.client_order_id and self.on_resolved and row.status is not OrderStatus.DELAYED:
                await self.on_resolved(row.client_order_id, row.phase, row.size_matched)
        elif (
            was_delayed and row.status is not OrderStatus.DELAYED and row.client_order_id and self.on_resolved
        ):
            await self.on_resolved(row.client_order_id, row.phase, row.size_matched)

    async def on_trade(self, trade: VenueTrade) -> None:
        """A trade event: one Fill per own order in it (the taker side, and/or own maker orders)."""
        chain = TRADE_CHAIN.get(trade.status)
        if chain is None:
            log.warning("unknown trade status %r of %s: ignored", trade.status, trade.id)
            return
        fills: list[tuple[str, Fill]] = []
        try:  # every Fill is built before anything is published: a bad part refuses the whole trade
            for part in self._own_parts(trade):
                row = self.store.order(part.order_id)
                fee = Decimal(0) if part.is_maker else await self._taker_fee(trade)
                for status in chain:
                    key = f"fill:{trade.id}:{part.order_id}:{status.value}"
                    fill = Fill(
                        envelope=Envelope.new(PRODUCER, message_id=deterministic_id(key)),
                        trade_id=trade.id,
                        status=status,
                        order_id=part.order_id,
                        client_order_id=row.client_order_id if row else None,
                        strategy=row.strategy if row else None,
                        market=trade.market,
                        token_id=part.token_id,
                        side=Side(part.side),
                        size=part.size,
                        price=part.price,
                        fee_usd=fee,
                        is_maker=part.is_maker,
                        transaction_hash=trade.transaction_hash,
                    )
                    fills.append((key, fill))
        except ValueError as error:  # MessageError included (a bus bound refused it)
            await self._malformed(trade, "trade", str(error))
            return
        fresh = [fill for key, fill in fills if not self._published(key)]
        await self.publish([(key, Output(FILLS, fill)) for key, fill in fills])
        for fill in fresh:
            metrics.EXECUTOR_FILLS.labels(status=fill.status.value).inc()
            # Our part of the trade: a maker order's own side, price and size, not the taker's.
            self.events.emit("fill", **fill_event_fields(fill))

    def _published(self, key: str) -> bool:
        return self.store.published(key)

    async def _taker_fee(self, trade: VenueTrade) -> Decimal:
        """The taker fee is charged per maker matched, each at its own price (the curve is not linear)."""
        if self.fees is None:
            return Decimal(0)
        if not trade.makers:
            return await self.fees.taker_fee(trade.market, trade.size, trade.price)
        total = Decimal(0)
        for maker in trade.makers:
            total += await self.fees.taker_fee(trade.market, maker.size, taker_price_of(trade, maker))
        return total

    def _own_parts(self, trade: VenueTrade) -> list[OwnPart]:
        """Our orders in a trade: the taker order when it is ours, and each of our maker orders.

        Every party receives the same trade: the top level is the taker's (owner included), and a maker
        finds itself in maker_orders[], so `trader_side` MAKER frames never make us the taker."""
        parts = []
        own_taker = trade.trader_side == "TAKER" and trade.owner == self.api_key
        if own_taker or self.store.order(trade.taker_order_id) is not None:
            parts.append(
                OwnPart(
                    trade.taker_order_id,
                    trade.side,
                    trade.token_id,
                    trade.size,
                    taker_average_price(trade),
                    False,
                )
            )
        for maker in trade.makers:
            if maker.owner == self.api_key or self.store.order(maker.order_id) is not None:
                parts.append(
                    OwnPart(maker.order_id, maker.side, maker.token_id, maker.size, maker.price, True)
                )
        return _merged(parts)


@dataclass(frozen=True)
class OwnPart:
    """One of our orders in a trade: our side, token, size and (average) price."""

    order_id: str
    side: str
    token_id: str
    size: Decimal
    price: Decimal
    is_maker: bool


def taker_price_of(trade: VenueTrade, maker: MakerFill) -> Decimal:
    """The taker's price on one maker's part: the maker's price, mirrored when the maker is on the other
    token (a BUY YES taker matched against a BUY NO maker at 0.45 pays 0.55)."""
    return maker.price if maker.token_id == trade.token_id else 1 - maker.price


def taker_average_price(trade: VenueTrade) -> Decimal:
    """The taker's average price over its makers (exact, to 6 places); the trade's own `price` when the
    report lists no makers. The venue's top-level price is rounded, so it is not used when makers are known."""
    matched = sum((maker.size for maker in trade.makers), Decimal(0))
    if not trade.makers or matched <= 0:
        return trade.price
    paid = sum((maker.size * taker_price_of(trade, maker) for maker in trade.makers), Decimal(0))
    return (paid / matched).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN).normalize()


def _merged(parts: list[OwnPart]) -> list[OwnPart]:
    """One part per own order: a maker order listed twice in one trade becomes one part (size summed,
    price averaged), so each (trade id, order id) is reported once."""
    by_order: dict[str, OwnPart] = {}
    for part in parts:
        seen = by_order.get(part.order_id)
        if seen is None:
            by_order[part.order_id] = part
            continue
        size = seen.size + part.size
        price = (
            ((seen.size * seen.price + part.size * part.price) / size)
            .quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
            .normalize()
        )
        by_order[part.order_id] = OwnPart(seen.order_id, seen.side, seen.token_id, size, price, seen.is_maker)
    return list(by_order.values())
