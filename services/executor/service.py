"""The executor service: approved orders in, venue orders out, lifecycle reports on `fills`.

Consumers: `approved_orders` (group "executor": ApprovedOrder is recorded in the store as QUEUED before
its entry is acknowledged; ApprovedCancel cancels) and `control` (group "executor": kill switch, cancel
all). Tasks: heartbeat, submitter, user stream, reconciliation. On stop: cancel all open orders, check
none is left, then run_service logs shutdown_clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence

from services.executor import cancels, preflight, redeem
from services.executor import venue as venue_module
from services.executor.baskets import Baskets
from services.executor.config import ExecutorSettings
from services.executor.desk_status import DeskStatus
from services.executor.fees import FeeSchedules
from services.executor.heartbeat import Gate, Heartbeat
from services.executor.orders import OPEN_STATUSES, OrderStore
from services.executor.reconcile import Reconciler
from services.executor.redeem import Redeemer
from services.executor.submitter import Submitter
from services.executor.ticks import retick
from services.executor.tracking import Reporter
from services.executor.venue import Venue, VenueOrder
from shared import clock, metrics
from shared.errors import ConfigurationError, PolydeskError
from shared.lifecycle import ServiceContext, ServiceMain
from shared.logging import register_secret
from shared.messages import (
    ApprovedBasket,
    ApprovedCancel,
    ApprovedOrder,
    CancelAllRequested,
    KillSwitchChanged,
    OrderEventKind,
    OrderStatus,
    ShutdownNotice,
    TickSizeChanged,
)
from shared.mode import is_production, venue_name
from shared.streams import APPROVED_ORDERS, CONTROL, Delivery, Output

log = logging.getLogger(__name__)
GROUP = "executor"
DESK_STATUS_SECS = 1.0  # latency and venue errors into the health key (written every health_ttl_secs / 3)
CANCEL_ALL_ATTEMPTS = 5
USER_EVENTS_COMMIT_SECS = 0.05
HEARTBEAT_AGE_SECS = 1.0  # how often the heartbeat-age gauge moves (the alert reads it)
SUBMIT_POLL_SECS = 0.5  # a submission pass at least this often; a new approval wakes it at once


class Executor:
    def __init__(
        self, ctx: ServiceContext, venue: Venue, store: OrderStore, settings: ExecutorSettings
    ) -> None:
        self.ctx = ctx
        self.venue = venue
        self.store = store
        self.settings = settings
        metrics.EXECUTOR_TIMERS_DUE.set_function(clock.timers_due)
        self.gate = Gate()
        fee_schedule = getattr(venue, "fee_schedule", None)
        self.reporter = Reporter(
            store, ctx.bus, ctx.events, venue.api_key, FeeSchedules(fee_schedule) if fee_schedule else None
        )
        self.desk = DeskStatus(ctx.events)
        self.submitter = Submitter(
            venue, store, self.reporter, ctx.events, self.gate, settings, self.desk.tick_to_order
        )
        self.reporter.on_resolved = self.submitter.after_placed
        self.baskets = Baskets(store, venue, self.submitter.wake, ctx.events, settings)
        self.reconciler = Reconciler(venue, store, self.reporter, self.submitter, ctx.events, settings)
        self.heartbeat = Heartbeat(
            venue,
            self.gate,
            ctx.events,
            interval_secs=settings.heartbeat_interval_secs,
            max_failures=settings.heartbeat_max_failures,
            on_recovered=self._gap_fill,
        )
        self.reconcile_now = asyncio.Event()
        self.redeemer: Redeemer | None = None  # auto-redeem (services.executor.redeem), when on
        self.intake: list[ApprovedOrder] = []  # approvals of the batch being read, not recorded yet
        self._user_group_open = False

    # ---- consumers ------------------------------------------------------------------------------

    async def on_approved(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        if isinstance(message, ApprovedOrder):
            if self.gate.kill_switch:
                self.ctx.events.emit(
                    "approval_dropped", client_order_id=message.client_order_id, reason="kill switch on"
                )
                return ()
            self.intake.append(message)  # recorded with the batch's others, before their acknowledgement
            return ()
        self.flush_intake()  # a cancel or basket after approvals in the same batch finds them recorded
        if isinstance(message, ApprovedBasket):
            if self.gate.kill_switch:
                self.ctx.events.emit("approval_dropped", basket_id=message.basket_id, reason="kill switch on")
                return ()
            self.baskets.start(message)
        elif isinstance(message, ApprovedCancel):
            await self.cancel_approvals(message)
        return ()

    def flush_intake(self) -> None:
        """Record the approvals read so far as QUEUED, in one durable transaction (never one per approval);
        the kill switch set meanwhile drops them instead."""
        if not self.intake:
            return
        approvals, self.intake = self.intake, []
        if self.gate.kill_switch:
            for a in approvals:
                self.ctx.events.emit(
                    "approval_dropped", client_order_id=a.client_order_id, reason="kill switch on"
                )
            return
        added = {a.client_order_id for a in self.store.add_approvals(approvals)}
        for a in approvals:
            if a.client_order_id not in added:
                log.info("approval %s already known: not posted again", a.client_order_id)
        if added:
            self.submitter.wake.set()

    async def before_ack(self) -> None:
        """Consumer hook, after a batch's handlers and before its acknowledgement: what they wrote is on disk
        (the approvals in one transaction, the rest with them). When the executor may post, the new approvals
        are signed here and committed with their orders (one fsync on the way to the POST, not two); their
        POST then goes out beside the acknowledgement."""
        if self.intake and self.gate.open and self.submitter.may_post_now():
            approvals, self.intake = self.intake, []
            with self.store.group():
                added = [a for a in approvals if self.store.add_approval(a)]
                for a in approvals:
                    if a not in added:
                        log.info("approval %s already known: not posted again", a.client_order_id)
                await self.submitter.submit_now(added)
        self.flush_intake()
        self.store.flush()

    async def on_control(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        if isinstance(message, KillSwitchChanged):
            self.gate.set(kill_switch=message.active)
            self._publish_status()
            if message.active:
                self.drop_approvals("kill switch")
                await self.cancel_everything(f"kill switch: {message.reason}")
        elif isinstance(message, CancelAllRequested):
            self.drop_approvals("cancel all requested", market=message.market)
            if message.market:
                result = await self.venue.cancel_market(message.market)
                self.ctx.events.emit("cancel_market", market=message.market, canceled=len(result.canceled))
            else:
                await self.cancel_everything(f"cancel all requested: {message.reason}")
        elif isinstance(message, TickSizeChanged):
            self.on_tick_size(message)
        elif isinstance(message, ShutdownNotice) and message.service in ("executor", "all"):
            self.ctx.request_stop()
        return ()

    def on_tick_size(self, message: TickSizeChanged) -> None:
        """The market's tick changed: approvals not posted yet are re-rounded in our favour (at post time,
        from `submitter.ticks`) or, when no price on the new grid is within their limit, refused now."""
        self.submitter.ticks.set(message.market, message.new_tick_size)
        self.flush_intake()
        for row in self.store.approvals_in("QUEUED", "ACTIVE"):
            a = row.approval
            if a.market != message.market:
                continue
            price = retick(a, message.new_tick_size)
            if price is None:
                self.store.set_approval(
                    a.client_order_id,
                    state="DONE",
                    outcome=f"refused: off the new tick {message.new_tick_size}",
                )
                self.ctx.events.emit(
                    "approval_dropped",
                    client_order_id=a.client_order_id,
                    reason=f"tick size {message.old_tick_size} -> {message.new_tick_size}: "
                    f"no price within the limit {a.price_limit}",
                )
            elif price != a.price:
                self.ctx.events.emit(
                    "approval_retick",
                    client_order_id=a.client_order_id,
                    price=a.price,
                    new_price=price,
                    tick_size=message.new_tick_size,
                )
        self.submitter.wake.set()

    async def cancel_approvals(self, message: ApprovedCancel) -> None:
        """Cancel the sender's own orders only (cancels.py); every cancel is logged with what it touched."""
        found = cancels.scope(self.store, message)
        for client_order_id in found.client_order_ids:
            row = self.store.approval(client_order_id)
            if row is not None and row.state != "DONE":
                self.store.set_approval(client_order_id, state="DONE", outcome="canceled")
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        if found.order_hashes:
            result = await self.venue.cancel(found.order_hashes)
            canceled, not_canceled = list(result.canceled), dict(result.not_canceled)
        self.ctx.events.emit(
            "cancel",
            strategy=message.strategy,
            signal_key=message.signal_key,
            of_signal_key=getattr(message, "of_signal_key", None),
            market=message.market,
            client_order_ids=found.client_order_ids,
            order_ids=found.order_hashes,
            canceled=len(canceled),
            not_canceled=not_canceled,
            refused=found.refused,
        )
        if found.refused:
            log.warning(
                "cancel from %s refused for %d order(s) it does not own", message.strategy, len(found.refused)
            )
        await self._record_canceled(
            canceled
        )  # the venue's word on these; the rest comes with the next gap fill
        # Not a gap fill here: it lists every trade of the account, and market making cancels every few
        # seconds, so the approved_orders consumer fell minutes behind (approvals waiting behind cancels).
        self.reconcile_now.set()

    def drop_approvals(self, outcome: str, market: str | None = None) -> None:
        """End the approvals not finished yet (all, or one market's): queued ones, and must-fill ones between
        phases (ACTIVE). Only QUEUED ones were ended before, so a must-fill walk resting on its phase timer
        posted its next phase right after a cancel, or after the kill switch was released."""
        self.flush_intake()
        for row in self.store.approvals_in("QUEUED", "ACTIVE"):
            if market is None or row.approval.market == market:
                self.store.set_approval(row.approval.client_order_id, state="DONE", outcome=outcome)

    async def cancel_everything(self, reason: str) -> bool:
        """Cancel all open orders of the key and check the venue shows none; True when none is left."""
        left: list[VenueOrder] = []
        for attempt in range(1, CANCEL_ALL_ATTEMPTS + 1):
            try:
                result = await self.venue.cancel_all()
                left = await self.venue.open_orders()
            except PolydeskError as error:
                log.warning("cancel all, attempt %d: %s", attempt, error)
                await asyncio.sleep(min(2.0, 0.25 * attempt))
                continue
            canceled = set(result.canceled)
            await self._record_canceled(
                [r.order_hash for r in self.store.orders_in(*OPEN_STATUSES) if r.order_hash in canceled]
            )
            if not left:
                self.ctx.events.emit("cancel_all", reason=reason, canceled=len(result.canceled), open_left=0)
                return True
        self.ctx.events.emit("cancel_all", reason=reason, open_left=len(left), error="orders left open")
        log.error("cancel all (%s): %d order(s) still open", reason, len(left))
        return False

    async def _record_canceled(self, order_hashes: list[str]) -> None:
        """Mark orders the venue cancelled and report each once. One commit for them all: these are facts the
        venue keeps (read again by hash after a crash), and a commit per order (two fsyncs with its report's
        mark) made a shutdown with hundreds of resting orders outlast its grace on a loaded disk."""
        if not order_hashes:
            return
        with self.store.group():
            for order_hash in order_hashes:
                done = self.store.update_order(order_hash, OrderStatus.CANCELED)
                if done:
                    await self.reporter.publish(
                        [self.reporter.order_update(done, OrderEventKind.CANCELLATION)]
                    )

    # ---- tasks ----------------------------------------------------------------------------------

    async def user_stream(self) -> None:
        """Follow the user channel; after the stream ends or fails, reconnect and fill the gap over REST."""
        while not self.ctx.stopping.is_set():
            try:
                async for event in self.venue.user_events():
                    self._group_briefly()
                    if isinstance(event, VenueOrder):
                        await self.reporter.on_order(event)
                    else:
                        await self.reporter.on_trade(event)
                    metrics.EXECUTOR_USER_EVENTS.inc()
            except PolydeskError as error:
                log.warning("user stream ended: %s; reconnecting, then filling the gap", error)
            except Exception:
                log.exception("user stream handler failed; reconnecting")
            if self.ctx.stopping.is_set():
                return
            self.reconcile_now.set()
            await _sleep_unless(self.ctx.stopping, 1.0)

    def _group_briefly(self) -> None:
        """User-stream events arriving within USER_EVENTS_COMMIT_SECS share one commit: facts the venue keeps
        (read again by hash after a crash), so they need not cost a fsync each."""
        if self._user_group_open:
            return
        self._user_group_open = True
        self.store.begin_group()

        def end() -> None:
            self._user_group_open = False
            with contextlib.suppress(sqlite3.ProgrammingError):  # the store closed meanwhile (shutdown)
                self.store.end_group()

        asyncio.get_running_loop().call_later(USER_EVENTS_COMMIT_SECS, end)

    def reconcile_interval(self) -> float:
        """Every second while an order's fate is unknown, else the configured interval."""
        if self.store.orders_in(OrderStatus.PENDING, OrderStatus.UNKNOWN):
            return min(self.settings.reconcile_interval_secs, 1.0)
        return self.settings.reconcile_interval_secs

    async def reconcile(self) -> None:
        """One reconciliation pass (a periodic job, also woken by `reconcile_now`): unresolved orders, then
        the gap over REST. The runtime logs and backs off a failed pass; the loop outlives it."""
        try:
            await self.reconciler.resolve_unresolved()
            await self._gap_fill()
        finally:
            self._publish_status()

    async def _gap_fill(self) -> None:
        await self.reconciler.gap_fill()

    def _publish_status(self) -> None:
        age = self.heartbeat.age()
        self.ctx.status.update(
            submitting=self.gate.open,
            halted_reason=self.gate.reason(),
            heartbeat_age_secs=None if age is None else round(age, 1),
        )

    async def _publish_desk_status(self) -> None:
        self.ctx.status.update(self.desk.status())

    async def run(self) -> None:
        stopping = self.ctx.stopping
        await self.reconciler.on_start()
        await self.heartbeat.beat()
        self.baskets.resume()  # baskets a restart interrupted, now that their orders' states are known
        # Declared on the runtime: a task that dies (e.g. the heartbeat loop) takes the service down with
        # health red, instead of leaving a green service whose venue dead-man switch cancels every order.
        # Periodic jobs (heartbeats, reconciliation, submission, redemption): a failed run is logged and
        # backed off by the runtime (never longer than the interval) and the job goes on.
        tasks = [
            self.ctx.every("heartbeat", self.heartbeat.interval_secs, self.heartbeat.beat),
            self.ctx.every("heartbeat-age", HEARTBEAT_AGE_SECS, self.heartbeat.report_age),
            self.ctx.task("user-stream", self.user_stream),
            self.ctx.every(
                "reconcile", self.reconcile_interval, self.reconcile, wake=self.reconcile_now, wait_first=True
            ),
            self.ctx.every("submitter", SUBMIT_POLL_SECS, self.submitter.pass_once, wake=self.submitter.wake),
        ]
        consumers = [
            self.ctx.consume(APPROVED_ORDERS, GROUP, self.on_approved, before_ack=self.before_ack),
            self.ctx.consume(CONTROL, GROUP, self.on_control, before_ack=self.before_ack),
        ]
        if self.redeemer is not None:
            redeemer = self.redeemer
            tasks.append(self.ctx.every("redeemer", self.settings.redeem_interval_secs, redeemer.run_logged))
        tasks.append(self.ctx.every("executor:desk-status", DESK_STATUS_SECS, self._publish_desk_status))
        self._publish_status()
        try:
            await stopping.wait()
        finally:
            await self.submitter.stop()
            await self.baskets.stop()
            await self.ctx.join_tasks(consumers, timeout=self.settings.shutdown_grace_secs / 2)
            await self.ctx.cancel_tasks(tasks + consumers)

    async def shutdown(self) -> None:
        """Shutdown hook: cancel everything open, check, close. run_service then logs shutdown_clean."""
        try:
            ok = await self.cancel_everything("shutdown")
            if not ok:
                raise RuntimeError("open orders left on the venue at shutdown")
        finally:
            with contextlib.suppress(Exception):
                await self.venue.close()
            if self.redeemer is not None:
                with contextlib.suppress(Exception):
                    await self.redeemer.close()
            self.store.close()


async def _sleep_unless(event: asyncio.Event, secs: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=secs)


async def _preflight(ctx: ServiceContext, settings: ExecutorSettings) -> None:
    """Live trading starts only when every preflight check passes (a close-only region passes with a warning)."""
    results = await preflight.run_preflight(settings)
    ctx.events.emit(
        "preflight", checks=[{"name": c.name, "status": c.status, "detail": c.detail} for c in results]
    )
    bad = preflight.failed(results)
    if bad:
        raise ConfigurationError(
            "preflight failed, not trading: " + "; ".join(f"{c.name}: {c.detail}" for c in bad)
        )


def build_main(settings: ExecutorSettings) -> ServiceMain:
    """The executor's main; raises ConfigurationError at start when it has no key to sign with."""
    for secret in (settings.private_key, settings.api_key, settings.api_secret, settings.api_passphrase):
        register_secret(secret)
    if settings.private_key is None:
        raise ConfigurationError(
            "POLYDESK_PRIVATE_KEY: required by the executor (or POLYDESK_PRIVATE_KEY_FILE "
            "naming a file that holds it)"
        )
    if settings.auto_redeem and (reason := redeem.unavailable(settings)):
        raise ConfigurationError(f"POLYDESK_AUTO_REDEEM is on but {reason}")

    async def main(ctx: ServiceContext) -> None:
        # The venue half of the mode on screen (PAPER / LIVE): a production host by either test counts.
        production = settings.is_production() or is_production(settings.clob_url)
        ctx.status.update(venue=venue_name(settings.clob_url), production=production)
        metrics.EXECUTOR_VENUE_PRODUCTION.set(int(production))
        if settings.preflight_on_start == "always" or (settings.preflight_on_start == "live" and production):
            await _preflight(ctx, settings)
        venue = await venue_module.connect(settings)
        for secret in venue.secrets():
            register_secret(secret)
        store = OrderStore(settings.db_path())
        executor = Executor(ctx, venue, store, settings)
        if settings.redeems_automatically():
            if (reason := redeem.unavailable(settings)) is None:  # on by default (paper): off when it cannot
                executor.redeemer = redeem.from_settings(settings, executor.reporter.publish, ctx.events)
            else:
                ctx.events.emit("auto_redeem_off", reason=reason)
        ctx.on_shutdown(executor.shutdown)
        ctx.events.emit(
            "executor_started",
            wallet=settings.wallet_address,
            signature_type=settings.signature_type,
            production=settings.is_production(),
            open_orders_on_start=settings.open_orders_on_start,
            auto_redeem=executor.redeemer is not None,
        )
        await executor.run()

    return main
