"""Drives queued approvals to the venue: sign, persist, post in batches of up to 15, walk the must-fill phases.

Never twice: an order's hash and signed body are committed to the store before its POST. A post that
ends without a definitive answer (5xx, timeout, dropped connection) leaves the order UNKNOWN; the
Resolver settles it by hash (user stream or REST), and nothing is ever re-posted for it. A post refused
before processing (429, 425 restart, 503 post-only) is retried, after the wait the venue asked for, with
the *same* signed orders, so even a misjudged refusal cannot make a second order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from decimal import Decimal

from services.executor import phases as phase_plan
from services.executor.config import ExecutorSettings
from services.executor.heartbeat import Gate
from services.executor.orders import ApprovalRow, OrderRow, OrderStore, iter_chunks
from services.executor.tracking import POST_STATUS, Reporter
from services.executor.venue import OrderRequest, PostResult, Rejected, SignedOrder, TradingRestricted, Venue
from shared import metrics
from shared.errors import PolydeskError, TransientVenueError, UnknownOutcome
from shared.logging import EventLog
from shared.messages import OrderEventKind, OrderStatus, OrderType, Side
from shared.retry import retry_async

log = logging.getLogger(__name__)

# Rejections that mean "no liquidity at this price": the next must-fill phase may try a worse price.
# Every other rejection is definitive for the approval.
NEXT_PHASE_CODES = frozenset({"fok_not_filled", "fak_not_filled", "unmatched"})


class Submitter:
    def __init__(self, venue: Venue, store: OrderStore, reporter: Reporter, events: EventLog, gate: Gate,
                 settings: ExecutorSettings) -> None:
        self.venue = venue
        self.store = store
        self.reporter = reporter
        self.events = events
        self.gate = gate
        self.settings = settings
        self.wake = asyncio.Event()
        self.waiting: dict[str, asyncio.Task[None]] = {}  # resting must-fill phases on their timer
        self.post_only_until = 0.0

    # ---- the loop -------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=0.5)
            except TimeoutError:
                pass
            self.wake.clear()
            if stopping.is_set() or not self.gate.open:
                continue
            try:
                await self.submit_ready()
            except Exception:
                log.exception("submission pass failed; queued approvals stay queued")

    async def submit_ready(self) -> None:
        ready = [a for a in self.store.approvals_in("QUEUED") if a.approval.client_order_id not in self.waiting]
        if time.monotonic() < self.post_only_until:
            ready = [a for a in ready if a.approval.post_only]
        for chunk in iter_chunks(ready, self.settings.post_batch_max):
            if not self.gate.open:
                return
            await self._submit(chunk)

    # ---- one batch ------------------------------------------------------------------------------

    async def _submit(self, approvals: list[ApprovalRow]) -> None:
        prepared: list[tuple[ApprovalRow, int, SignedOrder]] = []
        for row in approvals:
            next_phase = self._next_phase(row)
            if next_phase is None:
                continue
            number, price, label = next_phase
            a = row.approval
            request = OrderRequest(a.token_id, a.side, price, row.remaining, a.order_type, a.post_only,
                                   a.expiration_ts, a.neg_risk)
            try:
                signed = await self.venue.sign(request)
            except PolydeskError as error:
                await self._finish(row, f"not signed: {error}")
                continue
            self.events.emit("order_phase", client_order_id=a.client_order_id, phase=number, label=label,
                             price=price, size=row.remaining, side=a.side, order_hash=signed.order_hash)
            prepared.append((row, number, signed))
        if not prepared:
            return
        self.store.add_pending([(self._row(r, n, s), s.body) for r, n, s in prepared])
        for row, number, _ in prepared:
            self.store.set_approval(row.approval.client_order_id, state="ACTIVE", phase=number)
        await self._post([s for _, _, s in prepared], {s.order_hash: (r, n) for r, n, s in prepared})

    async def _post(self, batch: list[SignedOrder], owners: dict[str, tuple[ApprovalRow, int]]) -> None:
        now_ns = time.time_ns()
        for row, number in owners.values():
            if number == 1:  # end to end: from the venue event that caused it (the envelope's source time)
                metrics.TICK_TO_ORDER_SECONDS.observe(max(0.0, (now_ns - row.approval.envelope.source_ts_ns) / 1e9))
        started = time.perf_counter()
        try:
            results = await retry_async(
                lambda: self._post_once(batch), attempts=self.settings.post_attempts,
                retry_on=(TransientVenueError,), base_secs=0.5, max_secs=30.0,
            )
        except UnknownOutcome as error:
            metrics.EXECUTOR_SUBMIT_SECONDS.observe(time.perf_counter() - started)
            for signed in batch:
                metrics.EXECUTOR_ORDERS.labels(outcome="unknown").inc()
                metrics.EXECUTOR_UNKNOWN_OUTCOMES.inc()
                row = self.store.update_order(signed.order_hash, OrderStatus.UNKNOWN, reason=str(error))
                self.events.emit("order_unknown", client_order_id=row.client_order_id if row else None,
                                 order_hash=signed.order_hash, error=str(error), action="reconcile, never resend")
            log.warning("post of %d order(s) ended unknown (%s): reconciling by hash", len(batch), error)
            return
        except TransientVenueError as error:  # refused before processing, every attempt: requeue
            for signed in batch:
                metrics.EXECUTOR_ORDERS.labels(outcome="not_sent").inc()
                self.store.update_order(signed.order_hash, OrderStatus.REJECTED, reason=f"not processed: {error}")
                row, number = owners[signed.order_hash]
                self.store.set_approval(row.approval.client_order_id, state="QUEUED", phase=number - 1)
            log.warning("post of %d order(s) refused before processing (%s): requeued", len(batch), error)
            return
        metrics.EXECUTOR_SUBMIT_SECONDS.observe(time.perf_counter() - started)
        if self.settings.executor_crash_after_post:  # TEST HOOK: die between the post and recording it
            os._exit(137)
        for result in results:
            row, number = owners[result.order_hash]
            await self._record(row, number, result)

    async def _post_once(self, batch: list[SignedOrder]) -> list[PostResult]:
        try:
            return await self.venue.post_orders(batch)
        except TradingRestricted as error:
            if error.restriction == "post_only":
                self.post_only_until = time.monotonic() + self.settings.post_only_retry_secs
                error.retry_after_secs = max(error.retry_after_secs, self.settings.post_only_retry_secs)
            self.events.emit("venue_restricted", restriction=error.restriction, wait_secs=error.retry_after_secs)
            raise
        except TransientVenueError as error:
            self.events.emit("post_retry", error=str(error),
                             wait_secs=getattr(error, "retry_after_secs", None))
            raise

    async def _record(self, row: ApprovalRow, number: int, result: PostResult) -> None:
        a = row.approval
        if result.accepted:
            status = POST_STATUS.get(result.status, OrderStatus.LIVE)
            filled = result.taking_amount if a.side is Side.BUY else result.making_amount
            if status is OrderStatus.MATCHED and filled < row.remaining:
                status = OrderStatus.LIVE if a.order_type in (OrderType.GTC, OrderType.GTD) else OrderStatus.MATCHED
            order = self.store.update_order(result.order_hash, status, size_matched=min(filled, row.remaining))
            metrics.EXECUTOR_ORDERS.labels(outcome=result.status or "live").inc()
            self.events.emit("order_submitted", client_order_id=a.client_order_id, order_hash=result.order_hash,
                             phase=number, status=result.status, price=order.price if order else None,
                             size=row.remaining, trade_ids=list(result.trade_ids))
            if order:
                await self.reporter.publish([self.reporter.order_update(order, OrderEventKind.PLACEMENT)])
            await self.after_placed(a.client_order_id, number, filled)
            return
        order = self.store.update_order(result.order_hash, OrderStatus.REJECTED, reason=f"{result.code}: {result.message}")
        metrics.EXECUTOR_ORDERS.labels(outcome="rejected").inc()
        self.events.emit("order_rejected", client_order_id=a.client_order_id, order_hash=result.order_hash,
                         phase=number, code=result.code, message=result.message)
        if order:
            await self.reporter.publish([self.reporter.order_update(order, OrderEventKind.PLACEMENT)])
        if a.must_fill and result.code in NEXT_PHASE_CODES:
            self._requeue(a.client_order_id, number, row.remaining)
        else:
            await self._finish(row, f"rejected: {result.code}", report=False)

    # ---- phases ---------------------------------------------------------------------------------

    def _next_phase(self, row: ApprovalRow) -> tuple[int, Decimal, str] | None:
        a = row.approval
        try:
            planned = phase_plan.plan(side=a.side, target=a.price, limit=a.price_limit, tick=a.tick_size,
                                      must_fill=a.must_fill, phase2_offset_bps=self.settings.phase2_offset_bps,
                                      max_slippage_bps=self.settings.max_slippage_bps,
                                      min_step_ticks=self.settings.phase_min_step_ticks)
        except ValueError as error:
            self.store.set_approval(a.client_order_id, state="DONE", outcome=f"invalid: {error}")
            return None
        for phase in planned:
            if phase.number > row.phase:
                return phase.number, phase.price, phase.label
        self.store.set_approval(a.client_order_id, state="DONE", outcome="phases exhausted at the price limit")
        self.events.emit("phases_exhausted", client_order_id=a.client_order_id, remaining=row.remaining,
                         price_limit=a.price_limit)
        return None

    async def after_placed(self, client_order_id: str, number: int, filled: Decimal) -> None:
        """An order of this approval is on the venue (or was): finish, or go on to the next phase."""
        row = self.store.approval(client_order_id)
        # Once per phase: the post's answer and the user stream's event for the same (still PENDING) order
        # both land here, in either order. A second call used to start a second phase timer (two cancels,
        # two requeues), or requeue an earlier phase after the next one was posted: an order posted twice.
        if (row is None or row.state != "ACTIVE" or row.phase != number
                or client_order_id in self.waiting):
            return
        a = row.approval
        remaining = row.remaining - filled
        if not a.must_fill or remaining <= 0:
            self.store.set_approval(client_order_id, state="DONE", remaining=max(remaining, Decimal(0)),
                                    outcome="placed")
            return
        if a.order_type in (OrderType.FOK, OrderType.FAK):
            self._requeue(client_order_id, number, remaining)
            return
        self.waiting[client_order_id] = asyncio.create_task(self.wait_then_next(client_order_id, number))

    async def wait_then_next(self, client_order_id: str, number: int) -> None:
        """A resting must-fill phase: give it phase_wait_secs, cancel the rest, try the next phase."""
        try:
            await asyncio.sleep(self.settings.phase_wait_secs)
            open_orders = [o for o in self.store.orders_of(client_order_id)
                           if o.phase == number and o.status in (OrderStatus.LIVE, OrderStatus.DELAYED)]
            if open_orders:
                await self.venue.cancel([o.order_hash for o in open_orders])
                for o in open_orders:
                    fresh = await self.venue.order(o.order_hash)
                    if fresh is not None:
                        await self.reporter.on_order(fresh)
            orders = [o for o in self.store.orders_of(client_order_id) if o.status is not OrderStatus.REJECTED]
            row = self.store.approval(client_order_id)
            if row is None or row.state == "DONE":
                return
            filled = sum((o.size_matched for o in orders), Decimal(0))
            remaining = row.approval.size - filled
            if remaining <= 0:
                self.store.set_approval(client_order_id, state="DONE", remaining=Decimal(0), outcome="filled")
            else:
                self._requeue(client_order_id, number, remaining)
        except PolydeskError as error:
            log.warning("must-fill phase %d of %s not advanced: %s", number, client_order_id, error)
        finally:
            self.waiting.pop(client_order_id, None)

    def _requeue(self, client_order_id: str, number: int, remaining: Decimal) -> None:
        row = self.store.approval(client_order_id)
        if row is None or row.state == "DONE":  # dropped meanwhile (cancel, kill switch): no next phase
            return
        self.store.set_approval(client_order_id, state="QUEUED", phase=number, remaining=remaining)
        self.events.emit("phase_next", client_order_id=client_order_id, after_phase=number, remaining=remaining)
        self.wake.set()

    async def _finish(self, row: ApprovalRow, outcome: str, *, report: bool = True) -> None:
        self.store.set_approval(row.approval.client_order_id, state="DONE", outcome=outcome)
        if report:
            self.events.emit("approval_dropped", client_order_id=row.approval.client_order_id, reason=outcome)

    def _row(self, row: ApprovalRow, number: int, signed: SignedOrder) -> OrderRow:
        a = row.approval
        return OrderRow(signed.order_hash, a.client_order_id, number, OrderStatus.PENDING, a.side.value, a.token_id,
                        a.market, signed.request.price, signed.request.size, Decimal(0), a.order_type.value,
                        a.strategy, "", 0.0, 0.0)

    async def stop(self) -> None:
        for task in list(self.waiting.values()):
            task.cancel()
        await asyncio.gather(*self.waiting.values(), return_exceptions=True)


__all__ = ["NEXT_PHASE_CODES", "Rejected", "Submitter"]
