"""Reconciliation with the venue over REST: unknown outcomes by hash, open orders on start, gaps in the stream.

Runs at start (before anything is posted), every `reconcile_interval_secs` (the SDK reconnects its user
stream silently, so gaps are filled on a timer as well as after every stream restart), and every second
while an order is PENDING or UNKNOWN.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from services.executor.config import ExecutorSettings
from services.executor.orders import OPEN_STATUSES, UNRESOLVED_STATUSES, OrderRow, OrderStore
from services.executor.submitter import Submitter
from services.executor.tracking import Reporter, venue_status
from services.executor.venue import Venue
from shared.logging import EventLog
from shared.messages import OrderStatus, OrderType

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(
        self,
        venue: Venue,
        store: OrderStore,
        reporter: Reporter,
        submitter: Submitter,
        events: EventLog,
        settings: ExecutorSettings,
        *,
        clock=time.time,
    ) -> None:
        self.venue = venue
        self.store = store
        self.reporter = reporter
        self.submitter = submitter
        self.events = events
        self.settings = settings
        self._clock = clock

    async def resolve_unresolved(self) -> int:
        """Settle PENDING / UNKNOWN orders by hash; returns how many are still unresolved.

        Found on the venue: reported, and its approval resumes. Absent past the grace period: the post
        never took effect, so the *same* signed order is posted again (the venue takes a hash once);
        nothing is ever signed anew for it, and the approval is never left without an outcome."""
        left = 0
        absent: list[OrderRow] = []
        for row in self.store.orders_in(*UNRESOLVED_STATUSES):
            if row.order_hash in self.submitter.in_flight:  # its POST is still out: its answer decides
                left += 1
                continue
            found = await self.venue.order(row.order_hash)
            if found is not None:
                await self.reporter.on_order(found, via="rest")  # reports, and resumes the approval
                continue
            if self._clock() - row.updated_ts < self.settings.unknown_grace_secs:
                left += 1
                continue
            self.events.emit(
                "unknown_absent",
                client_order_id=row.client_order_id,
                order_hash=row.order_hash,
                status=row.status,
                action="post the same signed order again",
            )
            absent.append(row)
        if absent:
            await self.submitter.repost(absent)
            left += len(absent)
        return left

    async def on_start(self) -> None:
        """Before the first post: settle unknowns, then adopt or cancel what is open on the venue."""
        await self.resolve_unresolved()
        open_on_venue = await self.venue.open_orders()
        strangers = [o for o in open_on_venue if self.store.order(o.id) is None]
        if strangers and self.settings.open_orders_on_start == "cancel":
            result = await self.venue.cancel([o.id for o in strangers])
            self.events.emit(
                "open_orders_canceled", count=len(result.canceled), not_canceled=result.not_canceled
            )
            # What was cancelled is no longer open: gap_fill below must not adopt it as LIVE (it did, and
            # published a RECONCILED LIVE report of an order the venue had just cancelled).
            canceled = set(result.canceled)
            open_on_venue = [o for o in open_on_venue if o.id not in canceled]
        for order in open_on_venue:
            await self.reporter.on_order(order, via="rest")
        if strangers and self.settings.open_orders_on_start == "adopt":
            self.events.emit("open_orders_adopted", count=len(strangers))
        await self.gap_fill(open_on_venue)
        self._resume_active()

    async def gap_fill(self, open_on_venue=None) -> None:
        """Bring every order the store thinks open, and every own trade, up to the venue's state."""
        if open_on_venue is None:
            open_on_venue = await self.venue.open_orders()
        open_ids = {o.id for o in open_on_venue}
        for order in open_on_venue:
            known = self.store.order(order.id)
            status = venue_status(
                order.status, size_matched=order.size_matched, original_size=order.original_size
            )
            if known is None or known.status is not status or known.size_matched != order.size_matched:
                await self.reporter.on_order(order, via="rest")
        for row in self.store.orders_in(OrderStatus.LIVE, OrderStatus.DELAYED):
            if row.order_hash in open_ids:
                continue
            found = await self.venue.order(row.order_hash)
            if found is not None:
                await self.reporter.on_order(found, via="rest")
        for trade in await self.venue.trades():
            await self.reporter.on_trade(trade)

    def _resume_active(self) -> None:
        """Approvals caught mid-flight by a restart: wait out a resting must-fill phase, else finish."""
        for row in self.store.approvals_in("ACTIVE"):
            a = row.approval
            orders = self.store.orders_of(a.client_order_id)
            if any(o.status in UNRESOLVED_STATUSES for o in orders):
                continue  # the resolver calls after_placed once it knows
            current = [o for o in orders if o.phase == row.phase]
            filled = sum((o.size_matched for o in current), Decimal(0))
            if a.must_fill and a.order_type in (OrderType.GTC, OrderType.GTD) and _resting(current):
                self.submitter.waiting[a.client_order_id] = _spawn(
                    self.submitter, a.client_order_id, row.phase
                )
            elif a.must_fill and filled < row.remaining and row.phase > 0:
                self.submitter.store.set_approval(
                    a.client_order_id, state="QUEUED", remaining=row.remaining - filled
                )
            else:
                self.store.set_approval(a.client_order_id, state="DONE", outcome="placed (before restart)")


def _resting(orders: list[OrderRow]) -> bool:
    return any(o.status in OPEN_STATUSES for o in orders)


def _spawn(submitter: Submitter, client_order_id: str, number: int) -> asyncio.Task[None]:
    return asyncio.create_task(submitter.wait_then_next(client_order_id, number))
