"""Drives queued approvals to the venue: sign, persist, post in batches of up to 15, walk the must-fill phases.

Never twice, never abandoned (docs/architecture.md, "One order per approval phase"): an order's hash and
signed body are committed to the store, with its approval ACTIVE at that phase, before its POST. An
approval is signed again (a new salt, a new hash) only when no earlier order of it is open or unresolved
in the store, i.e. the venue has shown by hash that each earlier order is final (filled, cancelled,
rejected) or never existed. A post without a definitive answer (5xx, timeout, dropped connection), a
refusal (429, 425, 503) that outlasts `post_attempts`, and the venue's INVALID_ORDER_DUPLICATED all leave
the order UNKNOWN: the Resolver settles it by hash, and when the venue has no trace of it past the grace
period it posts the *same* signed order again (`repost`), which the venue can only take once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

from services.executor import phases as phase_plan
from services.executor.config import ExecutorSettings
from services.executor.heartbeat import Gate
from services.executor.orders import (
    OPEN_STATUSES,
    UNRESOLVED_STATUSES,
    ApprovalRow,
    OrderRow,
    OrderStore,
    iter_chunks,
)
from services.executor.ticks import TickSizes, retick
from services.executor.tracking import POST_STATUS, Reporter
from services.executor.venue import (
    OrderRequest,
    PostResult,
    Rejected,
    SignedOrder,
    TradingRestricted,
    Venue,
    market_buy_amount,
)
from shared import clock, crashpoints, metrics
from shared.errors import PolydeskError, TransientVenueError, UnknownOutcome, VenueRejected
from shared.latency import RecentLatencies
from shared.logging import EventLog
from shared.messages import ApprovedOrder, OrderEventKind, OrderStatus, OrderType, Side
from shared.retry import retry_async

log = logging.getLogger(__name__)

# Rejections that mean "no liquidity at this price": the next must-fill phase may try a worse price.
# Every other rejection is definitive for the approval.
NEXT_PHASE_CODES = frozenset({"fok_not_filled", "fak_not_filled", "unmatched"})
# The venue already holds an order with this hash: it exists, whatever the earlier answers said.
DUPLICATED_CODE = "duplicated"


class Submitter:
    def __init__(
        self,
        venue: Venue,
        store: OrderStore,
        reporter: Reporter,
        events: EventLog,
        gate: Gate,
        settings: ExecutorSettings,
        tick_to_order: RecentLatencies | None = None,
    ) -> None:
        self.venue = venue
        self.tick_to_order = tick_to_order or RecentLatencies()  # for the health key (the dashboard)
        self.store = store
        self.reporter = reporter
        self.events = events
        self.gate = gate
        self.settings = settings
        self.wake = asyncio.Event()
        self.waiting: dict[str, asyncio.Task[None]] = {}  # resting must-fill phases on their timer
        self.ticks = TickSizes()  # the venue's latest tick per market (TickSizeChanged on control)
        self.post_only_until = 0.0
        self.in_flight: set[str] = set()  # hashes of orders whose POST is under way in this process
        self.claimed: set[str] = set()  # client order ids being signed by submit_now (not by the pass)
        self.posting: set[asyncio.Task[None]] = set()  # submit_now's POSTs under way

    # ---- the loop -------------------------------------------------------------------------------

    async def pass_once(self) -> None:
        """One submission pass (a periodic job woken by `wake`): queued approvals go out while the gate is
        open; a failed pass leaves them queued for the next."""
        if self.gate.open:
            await self.submit_ready()

    def may_post_now(self) -> bool:
        return time.monotonic() >= self.post_only_until

    async def submit_now(self, approvals: list[ApprovedOrder]) -> None:
        """Approvals just recorded (in the caller's open group, QUEUED): signed and saved now, in batches, the
        save committing them with their orders; their POSTs go out in the background. Claimed meanwhile, so
        the submitter's own pass (which sees them QUEUED) leaves them alone."""
        ids = {a.client_order_id for a in approvals}
        self.claimed |= ids
        try:
            for chunk in iter_chunks(approvals, self.settings.post_batch_max):
                if not self.gate.open:  # the rest stay QUEUED for the submitter's pass
                    return
                rows = [ApprovalRow(a, "QUEUED", 0, a.size, "") for a in chunk]
                post = await self._submit(rows)
                if post is not None:
                    task = asyncio.create_task(post)
                    self.posting.add(task)
                    task.add_done_callback(self._posted)
                    await _on_the_wire()
        finally:
            self.claimed -= ids

    def _posted(self, task: asyncio.Task[None]) -> None:
        self.posting.discard(task)
        _reap({task})

    async def submit_ready(self) -> None:
        ready = [
            a
            for a in self.store.approvals_in("QUEUED")
            if a.approval.client_order_id not in self.waiting
            and a.approval.client_order_id not in self.claimed
        ]
        if time.monotonic() < self.post_only_until:
            ready = [a for a in ready if a.approval.post_only]
        # The next batch is signed and committed while earlier ones are on the wire (posts_in_flight at most):
        # each order is still committed before its own POST, and the venue's answer time is not ours.
        posting: set[asyncio.Task[None]] = set()
        try:
            for chunk in iter_chunks(ready, self.settings.post_batch_max):
                if not self.gate.open:
                    return
                post = await self._submit(chunk)
                if post is None:
                    continue
                posting.add(asyncio.create_task(post))
                await _on_the_wire()
                if len(posting) >= self.settings.posts_in_flight:
                    done, posting = await asyncio.wait(posting, return_when=asyncio.FIRST_COMPLETED)
                    _reap(done)
        finally:
            if posting:
                _reap((await asyncio.wait(posting))[0])

    # ---- one batch ------------------------------------------------------------------------------

    async def _submit(self, approvals: list[ApprovalRow]) -> Coroutine[Any, Any, None] | None:
        """Sign the batch's orders and commit them (one transaction); returns their POST, still to await."""
        prepared: list[tuple[ApprovalRow, int, SignedOrder]] = []
        for row in approvals:
            try:  # one approval that cannot be signed (a bad size, an SDK error) never holds up the others
                signed = await self._prepare(row)
            except Exception as error:  # noqa: BLE001 - anything the SDK raises: this approval ends with it
                log.warning("approval %s not signed: %r", row.approval.client_order_id, error)
                await self._finish(row, f"not signed: {type(error).__name__}: {error}"[:500])
                continue
            if signed is not None:
                prepared.append((row, *signed))
        if not prepared:
            return None
        crashpoints.hit("after_sign")
        self.store.add_pending([(self._row(r, n, s), s.body) for r, n, s in prepared])  # + approvals ACTIVE
        crashpoints.hit("after_save")
        return self._post([s for _, _, s in prepared], {s.order_hash: (r, n) for r, n, s in prepared})

    async def _prepare(self, row: ApprovalRow) -> tuple[int, SignedOrder] | None:
        """Sign the approval's next phase; None when it has none, or an earlier order is not final yet."""
        a = row.approval
        unsettled = [o for o in self.store.orders_of(a.client_order_id) if o.status in OPEN_STATUSES]
        if unsettled:  # the rule: never sign again while an earlier order may exist or be live
            await self._defer(row, unsettled)
            return None
        next_phase = self._next_phase(row)
        if next_phase is None:
            return None
        number, price, label = next_phase
        # A remainder after earlier phases, at this phase's own price (a first phase that costs less than a
        # cent was filled by nothing: the SDK's refusal says so).
        if row.phase > 0 and self._under_a_cent(a.client_order_id, a, row.remaining, price):
            return None
        request = OrderRequest(
            a.token_id,
            a.side,
            price,
            row.remaining,
            a.order_type,
            a.post_only,
            a.expiration_ts,
            a.neg_risk,
            **self._known_market(a),
        )
        try:
            signed = await self.venue.sign(request)
        except PolydeskError as error:
            await self._finish(row, f"not signed: {error}")
            return None
        self.events.emit(
            "order_phase",
            client_order_id=a.client_order_id,
            phase=number,
            label=label,
            price=price,
            size=row.remaining,
            side=a.side,
            order_hash=signed.order_hash,
        )
        return number, signed

    def _known_market(self, a: ApprovedOrder) -> dict[str, Any]:
        """The market as the executor knows it (tick from the approval or a later TickSizeChanged, neg-risk from
        the approval, the fee schedule when already read), for the venue to hand to its SDK before signing."""
        fees = self.reporter.fees
        return {
            "market": a.market,
            "tick_size": self.ticks.of(a),
            "fee": fees.known(a.market) if fees else None,
        }

    async def _defer(self, row: ApprovalRow, unsettled: list[OrderRow]) -> None:
        """Queued while an order of it is still open or unresolved: it goes back to following that order
        (the resolver settles an unresolved one; a live one is waited on like any placed order)."""
        a = row.approval
        phase = max(o.phase for o in unsettled)
        self.store.set_approval(a.client_order_id, state="ACTIVE", phase=phase)
        self.events.emit(
            "sign_deferred", client_order_id=a.client_order_id, open_orders=[o.order_hash for o in unsettled]
        )
        if not any(o.status in UNRESOLVED_STATUSES for o in unsettled):
            current = [o for o in unsettled if o.phase == phase]
            await self.after_placed(
                a.client_order_id, phase, sum((o.size_matched for o in current), Decimal(0))
            )

    async def repost(self, orders: list[OrderRow]) -> None:
        """Post again, as signed, orders the venue has shown no trace of (by hash) past the grace period:
        a crash between save and post, a refusal that outlasted the retries. Never a new signature."""
        batch: list[SignedOrder] = []
        owners: dict[str, tuple[ApprovalRow, int]] = {}
        for order in orders:
            row = self.store.approval(order.client_order_id) if order.client_order_id else None
            body = self.store.signed_body(order.order_hash)
            reason = self._not_repostable(order, row, body)
            if reason is not None:
                done = self.store.update_order(order.order_hash, OrderStatus.REJECTED, reason=reason)
                self.events.emit(
                    "unknown_resolved",
                    client_order_id=order.client_order_id,
                    order_hash=order.order_hash,
                    status="REJECTED",
                    found=False,
                    reason=reason,
                )
                if done:
                    await self.reporter.publish([self.reporter.order_update(done, OrderEventKind.RECONCILED)])
                if row is not None and row.state != "DONE":
                    self.store.set_approval(row.approval.client_order_id, state="DONE", outcome=reason)
                continue
            assert row is not None and body is not None
            a = row.approval
            request = OrderRequest(
                a.token_id,
                a.side,
                order.price,
                order.size,
                a.order_type,
                a.post_only,
                a.expiration_ts,
                a.neg_risk,
                **self._known_market(a),
            )
            self.store.mark_reposted(order.order_hash, "re-posted: the same signed order (absent by hash)")
            self.events.emit(
                "order_reposted",
                client_order_id=a.client_order_id,
                order_hash=order.order_hash,
                phase=order.phase,
                posts=self.store.posts(order.order_hash),
            )
            batch.append(self.venue.restore(order.order_hash, body, request))
            owners[order.order_hash] = (row, order.phase)
        for chunk in iter_chunks(batch, self.settings.post_batch_max):
            await self._post(chunk, {s.order_hash: owners[s.order_hash] for s in chunk})

    def _not_repostable(self, order: OrderRow, row: ApprovalRow | None, body: dict | None) -> str | None:
        """Why an absent order is final instead of posted again (None: post it again)."""
        if row is None or body is None:
            return "unknown outcome: not on the venue (never placed)"
        if row.state == "DONE":
            return f"not on the venue (never placed); approval ended: {row.outcome}"
        expiration = int(body.get("expiration") or 0)
        if expiration and expiration <= clock.now():
            return "expired: not on the venue and past its expiration"
        if self.store.posts(order.order_hash) >= self.settings.max_posts_per_order:
            return f"rejected: not on the venue after {self.store.posts(order.order_hash)} posts of the same order"
        return None

    def _post(
        self, batch: list[SignedOrder], owners: dict[str, tuple[ApprovalRow, int]]
    ) -> Coroutine[Any, Any, None]:
        """The batch's POST, to await; its orders count as in flight from now (the resolver leaves them be)."""
        hashes = {s.order_hash for s in batch}
        self.in_flight |= hashes

        async def post() -> None:
            try:
                await self._post_batch(batch, owners)
            finally:
                self.in_flight -= hashes

        return post()

    async def _post_batch(self, batch: list[SignedOrder], owners: dict[str, tuple[ApprovalRow, int]]) -> None:
        now_ns = time.time_ns()
        for row, number in owners.values():
            if number == 1:  # end to end: from the venue event that caused it (the envelope's source time)
                latency = max(0.0, (now_ns - row.approval.envelope.source_ts_ns) / 1e9)
                metrics.TICK_TO_ORDER_SECONDS.observe(latency)
                self.tick_to_order.observe(latency)
        started = time.perf_counter()
        try:
            results = await retry_async(
                lambda: self._post_once(batch),
                attempts=self.settings.post_attempts,
                retry_on=(TransientVenueError,),
                base_secs=0.5,
                max_secs=30.0,
            )
        except UnknownOutcome as error:
            metrics.EXECUTOR_SUBMIT_SECONDS.observe(time.perf_counter() - started)
            self._unresolved(
                [s.order_hash for s in batch],
                "unknown",
                str(error),
                "reconcile by hash; re-post the same order if absent",
            )
            log.warning("post of %d order(s) ended unknown (%s): reconciling by hash", len(batch), error)
            return
        except TransientVenueError as error:
            # Refused every attempt, "before processing" by the venue's word; but a refusal can come after
            # the order was applied, so it is resolved by hash like an unknown outcome, never signed again.
            self._unresolved(
                [s.order_hash for s in batch],
                "refused",
                f"refused {self.settings.post_attempts} times: {error}",
                "resolve by hash; re-post the same order if absent",
            )
            log.warning(
                "post of %d order(s) refused every attempt (%s): resolving by hash", len(batch), error
            )
            return
        except VenueRejected as error:
            if len(batch) == 1:
                raise
            # The whole batch refused (one bad order makes the body invalid): each order on its own, so the
            # others still go out and the bad one gets its own answer.
            log.warning("batch of %d refused (%s): posting each order alone", len(batch), error)
            for signed in batch:
                await self._post_batch([signed], {signed.order_hash: owners[signed.order_hash]})
            return
        metrics.EXECUTOR_SUBMIT_SECONDS.observe(time.perf_counter() - started)
        if self.settings.executor_crash_after_post:  # TEST HOOK: die between the post and recording it
            os._exit(137)
        crashpoints.hit("after_post")
        with self.store.group():  # the batch's answers in one commit (a crash here: resolved by hash)
            for result in results:
                row, number = owners[result.order_hash]
                try:  # one answer that cannot be recorded (Redis away for its report) leaves the others recorded
                    await self._record(row, number, result)
                except Exception:  # the order stays as stored; the resolver and gap fill catch up
                    log.exception("recording the answer for %s failed", result.order_hash)

    def _unresolved(self, hashes: list[str], outcome: str, reason: str, action: str) -> None:
        """These orders may exist on the venue: UNKNOWN until the venue shows, by hash, what became of them."""
        for order_hash in hashes:
            metrics.EXECUTOR_ORDERS.labels(outcome=outcome).inc()
            metrics.EXECUTOR_UNKNOWN_OUTCOMES.inc()
            row = self.store.update_order(order_hash, OrderStatus.UNKNOWN, reason=reason)
            self.events.emit(
                "order_unknown",
                client_order_id=row.client_order_id if row else None,
                order_hash=order_hash,
                error=reason,
                action=action,
            )

    async def _post_once(self, batch: list[SignedOrder]) -> list[PostResult]:
        try:
            return await self.venue.post_orders(batch)
        except TradingRestricted as error:
            if error.restriction == "post_only":
                self.post_only_until = time.monotonic() + self.settings.post_only_retry_secs
                error.retry_after_secs = max(error.retry_after_secs, self.settings.post_only_retry_secs)
            self.events.emit(
                "venue_restricted", restriction=error.restriction, wait_secs=error.retry_after_secs
            )
            raise
        except TransientVenueError as error:
            self.events.emit(
                "post_retry", error=str(error), wait_secs=getattr(error, "retry_after_secs", None)
            )
            raise

    async def _record(self, row: ApprovalRow, number: int, result: PostResult) -> None:
        a = row.approval
        if result.accepted:
            status = POST_STATUS.get(result.status, OrderStatus.LIVE)
            filled = result.taking_amount if a.side is Side.BUY else result.making_amount
            if status is OrderStatus.MATCHED and filled < row.remaining:
                status = (
                    OrderStatus.LIVE
                    if a.order_type in (OrderType.GTC, OrderType.GTD)
                    else OrderStatus.MATCHED
                )
            order = self.store.update_order(
                result.order_hash, status, size_matched=min(filled, row.remaining)
            )
            metrics.EXECUTOR_ORDERS.labels(outcome=result.status or "live").inc()
            self.events.emit(
                "order_submitted",
                client_order_id=a.client_order_id,
                order_hash=result.order_hash,
                phase=number,
                status=result.status,
                posted_ns=result.sent_ns,
                price=order.price if order else None,
                size=row.remaining,
                trade_ids=list(result.trade_ids),
            )
            if order:
                await self.reporter.publish([self.reporter.order_update(order, OrderEventKind.PLACEMENT)])
            if (
                status is OrderStatus.DELAYED
            ):  # taker delay: the user stream tells the outcome (Reporter.on_order)
                return
            await self.after_placed(a.client_order_id, number, filled)
            return
        if result.code == DUPLICATED_CODE:  # it exists: an earlier post of this very order went through
            self._unresolved(
                [result.order_hash],
                "duplicated",
                f"{result.code}: {result.message}",
                "the venue has this hash: resolve by hash",
            )
            return
        order = self.store.update_order(
            result.order_hash, OrderStatus.REJECTED, reason=f"{result.code}: {result.message}"
        )
        metrics.EXECUTOR_ORDERS.labels(outcome="rejected").inc()
        self.events.emit(
            "order_rejected",
            client_order_id=a.client_order_id,
            order_hash=result.order_hash,
            phase=number,
            code=result.code,
            message=result.message,
        )
        if order:
            await self.reporter.publish([self.reporter.order_update(order, OrderEventKind.PLACEMENT)])
        if a.must_fill and result.code in NEXT_PHASE_CODES:
            self._requeue(a.client_order_id, number, row.remaining)
        else:
            await self._finish(row, f"rejected: {result.code}", report=False)

    # ---- phases ---------------------------------------------------------------------------------

    def _next_phase(self, row: ApprovalRow) -> tuple[int, Decimal, str] | None:
        a = row.approval
        tick = self.ticks.of(a)
        if retick(a, tick) is None:  # the tick changed under it: no price on the new grid is within its limit
            self.store.set_approval(
                a.client_order_id, state="DONE", outcome=f"refused: off the new tick {tick}"
            )
            self.events.emit(
                "approval_dropped",
                client_order_id=a.client_order_id,
                reason=f"price {a.price} has no price on tick {tick} within the limit {a.price_limit}",
            )
            return None
        try:
            planned = phase_plan.plan(
                side=a.side,
                target=a.price,
                limit=a.price_limit,
                tick=tick,
                must_fill=a.must_fill,
                phase2_offset_bps=self.settings.phase2_offset_bps,
                max_slippage_bps=self.settings.max_slippage_bps,
                min_step_ticks=self.settings.phase_min_step_ticks,
            )
        except ValueError as error:
            self.store.set_approval(a.client_order_id, state="DONE", outcome=f"invalid: {error}")
            return None
        for phase in planned:
            if phase.number > row.phase:
                return phase.number, phase.price, phase.label
        self.store.set_approval(
            a.client_order_id, state="DONE", outcome="phases exhausted at the price limit"
        )
        self.events.emit(
            "phases_exhausted",
            client_order_id=a.client_order_id,
            remaining=row.remaining,
            price_limit=a.price_limit,
        )
        return None

    async def after_placed(self, client_order_id: str, number: int, filled: Decimal) -> None:
        """An order of this approval is on the venue (or was): finish, or go on to the next phase."""
        row = self.store.approval(client_order_id)
        # Once per phase: the post's answer and the user stream's event for the same (still PENDING) order
        # both land here, in either order. A second call used to start a second phase timer (two cancels,
        # two requeues), or requeue an earlier phase after the next one was posted: an order posted twice.
        if row is None or row.state != "ACTIVE" or row.phase != number or client_order_id in self.waiting:
            return
        a = row.approval
        remaining = row.remaining - filled
        if not a.must_fill or remaining <= 0:
            self.store.set_approval(
                client_order_id, state="DONE", remaining=max(remaining, Decimal(0)), outcome="placed"
            )
            return
        if a.order_type in (OrderType.FOK, OrderType.FAK):
            if self._under_a_cent(client_order_id, a, remaining, a.price_limit):
                return
            self._requeue(client_order_id, number, remaining)
            return
        self.waiting[client_order_id] = asyncio.create_task(self.wait_then_next(client_order_id, number))

    async def wait_then_next(self, client_order_id: str, number: int) -> None:
        """A resting must-fill phase: give it phase_wait_secs, cancel the rest, try the next phase."""
        try:
            async with clock.after(self.settings.phase_wait_secs):  # the tape's time in a backtest
                open_orders = [
                    o
                    for o in self.store.orders_of(client_order_id)
                    if o.phase == number and o.status in (OrderStatus.LIVE, OrderStatus.DELAYED)
                ]
                if open_orders:
                    await self.venue.cancel([o.order_hash for o in open_orders])
                    for o in open_orders:
                        fresh = await self.venue.order(o.order_hash)
                        if fresh is not None:
                            await self.reporter.on_order(fresh)
                orders = [
                    o for o in self.store.orders_of(client_order_id) if o.status is not OrderStatus.REJECTED
                ]
                row = self.store.approval(client_order_id)
                if row is None or row.state == "DONE":
                    return
                filled = sum((o.size_matched for o in orders), Decimal(0))
                remaining = row.approval.size - filled
                if remaining <= 0:
                    self.store.set_approval(
                        client_order_id, state="DONE", remaining=Decimal(0), outcome="filled"
                    )
                else:
                    self._requeue(client_order_id, number, remaining)
        except PolydeskError as error:
            log.warning("must-fill phase %d of %s not advanced: %s", number, client_order_id, error)
        finally:
            self.waiting.pop(client_order_id, None)

    def _under_a_cent(
        self, client_order_id: str, a: ApprovedOrder, remaining: Decimal, price: Decimal
    ) -> bool:
        """A market BUY spends whole cents: when what is left is worth less than one at `price`, no phase can
        buy it (the SDK refuses it as "amount must be a positive number"), so the approval ends, filled to
        the cent; True when it did."""
        if a.order_type not in (OrderType.FOK, OrderType.FAK) or a.side is not Side.BUY:
            return False
        if market_buy_amount(remaining, price) > 0:
            return False
        self.store.set_approval(
            client_order_id,
            state="DONE",
            remaining=remaining,
            outcome=f"filled to the cent: {remaining} shares left cost less than a cent at {price}",
        )
        self.events.emit(
            "phases_done", client_order_id=client_order_id, remaining=remaining, reason="less than a cent"
        )
        return True

    def _requeue(self, client_order_id: str, number: int, remaining: Decimal) -> None:
        row = self.store.approval(client_order_id)
        if row is None or row.state == "DONE":  # dropped meanwhile (cancel, kill switch): no next phase
            return
        self.store.set_approval(client_order_id, state="QUEUED", phase=number, remaining=remaining)
        self.events.emit(
            "phase_next", client_order_id=client_order_id, after_phase=number, remaining=remaining
        )
        self.wake.set()

    async def _finish(self, row: ApprovalRow, outcome: str, *, report: bool = True) -> None:
        self.store.set_approval(row.approval.client_order_id, state="DONE", outcome=outcome)
        if report:
            self.events.emit("approval_dropped", client_order_id=row.approval.client_order_id, reason=outcome)

    def _row(self, row: ApprovalRow, number: int, signed: SignedOrder) -> OrderRow:
        a = row.approval
        return OrderRow(
            signed.order_hash,
            a.client_order_id,
            number,
            OrderStatus.PENDING,
            a.side.value,
            a.token_id,
            a.market,
            signed.request.price,
            signed.request.size,
            Decimal(0),
            a.order_type.value,
            a.strategy,
            "",
            0.0,
            0.0,
        )

    async def stop(self) -> None:
        for task in list(self.waiting.values()):
            task.cancel()
        await asyncio.gather(*self.waiting.values(), *self.posting, return_exceptions=True)


async def _on_the_wire() -> None:
    """Let a POST task just created run up to its first wait (the request written to the socket) before the
    caller goes on signing the next batch or acknowledging this one: otherwise it starts only at the caller's
    next real wait, after that work (0.25 ms p50 at 1,000 ticks/s). Two turns of the loop: the venue's
    `asyncio.wait_for` runs the SDK call in a task of its own (Python 3.11)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _reap(done: set[asyncio.Task[None]]) -> None:
    """A batch's POST that raised is logged; its orders stay PENDING for the resolver (never signed again)."""
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("posting a batch failed; its orders are resolved by hash", exc_info=error)


__all__ = ["NEXT_PHASE_CODES", "Rejected", "Submitter"]
