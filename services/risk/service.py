"""The risk service: consume intents, fills, market events and control commands; publish decisions.

Groups: `intents`/risk, `fills`/risk, `events:<shard>`/risk-marks, `control`/risk. Every handler's bus
outputs are committed by the bus together with the ack; its SQLite changes are made idempotent first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from services.risk import killswitch
from services.risk.baskets import BasketDecider
from services.risk.books import BookGuard
from services.risk.config import RiskSettings
from services.risk.decisions import DECISIONS, Decider
from services.risk.handling import Effects, handle_once
from services.risk.pnl import exposure_usd
from services.risk.reconcile import Difference, VenueView, adopt, compare, read_venue
from services.risk.region import RegionWatch
from services.risk.state import KillState, RiskState
from services.risk.tracking import Tracker
from shared import metrics
from shared.config import redacted
from shared.lifecycle import ServiceContext, ServiceMain
from shared.messages import (
    BasketIntent,
    BookDelta,
    CancelIntent,
    Fill,
    KillSwitchCommand,
    OrderIntent,
    OrderUpdate,
    PositionRedeemed,
)
from shared.streams import CONTROL, FILLS, INTENTS, Delivery, Output, events_stream

log = logging.getLogger(__name__)

GROUP = "risk"
MARKS_GROUP = "risk-marks"
# The marks consumers read up to 200 entries at a time. They do not wait for entries to gather after a partial
# batch: the same stream carries the books' status, which risk's book guard must see at once (a wait of 10 ms
# let an intent be judged against a book state already replaced, and made backtests differ run to run).
MARKS_BATCH = 200
REFRESH_SECS = 1.0  # metrics, the kill switch mirror and the day's baseline follow the clock this often
HOUSEKEEPING_SECS = 60.0
BACKLOG_POLL_SECS = 0.5  # how often a start reconciliation waiting for the fills backlog looks again
HANDLED_KEEP_SECS = 2 * 86_400.0  # far longer than any entry stays pending


class RiskService:
    def __init__(self, settings: RiskSettings, ctx: ServiceContext, state: RiskState) -> None:
        self.settings = settings
        self.ctx = ctx
        self.state = state
        self.decider = Decider(settings, state)
        self.baskets = BasketDecider(self.decider)
        self.tracker = Tracker(settings, state)
        self._published: KillState | None = None
        self._last_differences: set[tuple[str, str, str]] = set()  # the previous reconcile check's
        self.book_guard = BookGuard(settings, state)
        self.region = RegionWatch(settings.geoblock_url, settings.geoblock_check_secs, ctx.events)
        self.decider.region = lambda: self.region.status

    # ---- handlers ------------------------------------------------------------------------------------

    def _once(
        self, delivery: Delivery, work: Callable[[Effects], object], *, record_always: bool
    ) -> list[Output]:
        return handle_once(
            self.state,
            self.ctx.events,
            delivery.message.envelope.message_id,
            work,
            record_always=record_always,
        )

    async def on_intent(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        with metrics.timed(metrics.RISK_DECISION_SECONDS):
            if isinstance(message, OrderIntent):
                outputs = self._once(
                    delivery, lambda fx: self.decider.decide(message, fx), record_always=True
                )
            elif isinstance(message, BasketIntent):
                outputs = self._once(
                    delivery, lambda fx: self.baskets.decide(message, fx), record_always=True
                )
            elif isinstance(message, CancelIntent):
                outputs = self._once(
                    delivery, lambda fx: self.decider.pass_cancel(message, fx), record_always=True
                )
            else:
                log.warning("ignoring %s on %s", message.TYPE, delivery.stream)
                return []
        await self._sync_status()
        return outputs

    async def on_fill(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        if isinstance(message, Fill):
            outputs = self._once(delivery, lambda fx: self.tracker.on_fill(message, fx), record_always=False)
            await self._sync_status()
            return outputs
        if isinstance(message, PositionRedeemed):
            outputs = self._once(
                delivery, lambda fx: self.tracker.on_redeemed(message, fx), record_always=False
            )
            await self._sync_status()
            return outputs
        if isinstance(message, OrderUpdate):
            with self.state.transaction():
                self.tracker.on_order_update(message)
        return []

    async def on_market_event(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        # Most entries are book changes of tokens risk does not hold: their marks are kept in memory only.
        # Not on a redelivery, which may have recorded outputs (a trip of the kill switch) to send again.
        if delivery.deliveries == 1 and isinstance(message, BookDelta) and self.tracker.mark_unheld(message):
            return []
        outputs = self._once(
            delivery, lambda fx: self.tracker.on_market_event(message, fx), record_always=False
        )
        if outputs:
            await self._sync_status()
        return outputs

    async def on_control(self, delivery: Delivery) -> Sequence[Output]:
        message = delivery.message
        if not isinstance(message, KillSwitchCommand):
            return []  # risk's own announcements and other services' notices come back here too

        def work(fx: Effects) -> None:
            if not killswitch.change(
                self.state,
                fx,
                active=message.active,
                reason=message.reason,
                actor=message.actor,
                cause=message,
            ):
                log.info(
                    "kill switch already %s; command from %s changes nothing",
                    "on" if message.active else "off",
                    message.actor,
                )

        outputs = self._once(delivery, work, record_always=True)
        await self._sync_status()
        return outputs

    async def _check_region(self) -> None:
        """A geoblock check (a periodic job: the runtime logs and backs off a failed one)."""
        await self.region.check()
        self.ctx.status["trading_region"] = self.region.status

    # ---- status, metrics, housekeeping ----------------------------------------------------------------

    async def _sync_status(self) -> None:
        kill = self.state.kill_switch()
        if kill != self._published:
            await killswitch.publish_status(self.ctx.redis, self.settings.stream_prefix, kill)
            self._published = kill
            self.ctx.status["kill_switch"] = {"active": kill.active, "reason": kill.reason}
            metrics.KILL_SWITCH_ACTIVE.set(int(kill.active))

    def refresh_metrics(self) -> None:
        realized, unrealized = self.state.daily_pnl()
        metrics.DAILY_PNL_USD.labels(kind="realized").set(float(realized))
        metrics.DAILY_PNL_USD.labels(kind="unrealized").set(float(unrealized))
        held = exposure_usd(self.state.positions(), self.state.marks)
        exposure = held + self.state.open_buy_notional()
        metrics.EXPOSURE_USD.set(float(exposure))
        # What `polydesk dash` and the `up` summary show (the health key carries ctx.status).
        micro = Decimal("0.000001")  # average cost divides: show what a person can read
        self.ctx.status.update(
            pnl_realized_usd=str(realized.quantize(micro)),
            pnl_unrealized_usd=str(unrealized.quantize(micro)),
            exposure_usd=str(exposure.quantize(micro)),
            max_daily_loss_usd=str(self.settings.max_daily_loss_usd),
            dry_run=self.settings.dry_run,
        )
        metrics.RISK_DRY_RUN.set(int(self.settings.dry_run))
        metrics.MAX_DAILY_LOSS_USD.set(float(self.settings.max_daily_loss_usd))

    async def _housekeeping(self) -> None:
        self.state.prune(
            handled_keep_secs=HANDLED_KEEP_SECS, signal_keep_secs=max(self.settings.dedup_window_secs, 1.0)
        )
        # No group reads `decisions` (it is for whoever looks), so the bus's trim-after-ack never applies.
        await self.ctx.bus.trim_log(DECISIONS, retain_secs=self.settings.stream_retain_secs)

    async def _refresh(self) -> None:
        """Metrics, the kill switch mirror and the cancels of markets whose book is not valid: a periodic job
        of the runtime, which logs and backs off its errors (metrics must not take the service down)."""
        self.refresh_metrics()
        await self._sync_status()
        for message in self.book_guard.cancels():
            await self.ctx.bus.publish(CONTROL, message)
            self.ctx.events.emit("cancel_market_book_not_valid", market=message.market, reason=message.reason)

    # ---- start and run -------------------------------------------------------------------------------

    async def _read_venue(self) -> VenueView | None:
        wallet = self.settings.reconcile_wallet_address
        if not wallet or not (self.settings.data_api_url or self.settings.rpc_url):
            return None
        # Held tokens only (every token ever traded would grow the chain reads); the Data API lists the rest.
        tokens = [p.token_id for p in self.state.ledger.positions() if p.size != 0 or p.settled != 0]
        return await read_venue(self.settings.data_api_url, self.settings.rpc_url, wallet, tokens)

    async def _fills_backlog(self) -> int:
        """Fills entries risk has not finished yet (a group not created yet gets every retained entry)."""
        mine = {s.group: s for s in await self.ctx.bus.group_stats(FILLS)}.get(GROUP)
        if mine is None:
            return await self.ctx.bus.length(FILLS)
        return mine.pending + (1 if mine.lag is None else mine.lag)  # an unknown lag counts as a backlog

    async def reconcile_on_start(self) -> bool:
        """Compare with the venue, log every difference, adopt the venue's positions and pUSD balance.

        Only with no fills backlog: the venue already holds what unread fills will add, so adopting first would
        count them twice. With a backlog it returns False and the reconcile loop adopts once it is applied."""
        backlog = await self._fills_backlog()
        if backlog:
            log.info("reconciliation waits for the %d fills entries not applied yet", backlog)
            return False
        venue = await self._read_venue()
        if venue is None:
            log.warning(
                "reconciliation skipped: POLYDESK_RECONCILE_WALLET_ADDRESS or both POLYDESK_DATA_API_URL "
                "and POLYDESK_RPC_URL unset"
            )
            return True
        for error in venue.errors:
            log.error("reconciliation could not read the venue, continuing on local state: %s", error)
            self.ctx.events.emit("reconcile_failed", error=error)
        # A ledger with history is what polydesk did; on a restart the venue can be ahead of it by trades
        # whose fills the executor has not published yet (it may be restarting too): adopting then and
        # applying those fills after counted them twice. Only an empty ledger (or the operator) adopts.
        take = self.settings.risk_adopt_venue_on_start or not self.state.ledger.positions()
        with self.state.transaction():
            found = adopt(self.state.ledger, venue, positions=take, cash=take)
        for diff in found:
            if take:
                log.warning("ledger differs from the venue, adopting the venue's: %s", diff)
            else:
                log.warning("ledger differs from the venue (kept; checked again on the timer): %s", diff)
            self.ctx.events.emit("reconcile_diff", adopted=take, **diff.as_dict())
        self.ctx.events.emit(
            "reconcile_done", differences=len(found), cash_ledger=self.state.ledger.cash_usd()
        )
        return True

    async def reconcile_check(self) -> list[Difference]:
        """The timer's comparison; a difference seen on two checks in a row is logged (`reconcile_difference`)
        and counted, not adopted. One check alone is not enough: a fill or redemption in flight between the
        venue and the ledger shows as a difference for a moment."""
        venue = await self._read_venue()
        if venue is None:
            return []
        if venue.errors:
            metrics.RECONCILE_RUNS.labels(outcome="failed").inc()
            for error in venue.errors:
                log.warning("reconcile check could not read the venue: %s", error)
            if venue.chain_tokens is None and venue.data_api is None:
                return []
        ledger = self.state.ledger
        found = compare(
            ledger.positions(), ledger.cash_usd(), ledger.pending_cash_usd(), venue, ledger.pending_shares()
        )
        keys = {(d.kind, d.source, d.token_id) for d in found}
        confirmed = [d for d in found if (d.kind, d.source, d.token_id) in self._last_differences]
        self._last_differences = keys
        for kind in ("position", "cash"):
            metrics.RECONCILE_DIFFERENCES.labels(kind=kind).set(sum(1 for d in confirmed if d.kind == kind))
        metrics.RECONCILE_RUNS.labels(outcome="differences" if confirmed else "ok").inc()
        for diff in confirmed:
            log.warning("reconcile difference: %s", diff)
            self.ctx.events.emit("reconcile_difference", **diff.as_dict())
        self.ctx.events.emit(
            "reconcile_checked",
            differences=len(confirmed),
            unconfirmed=len(found) - len(confirmed),
            cash_ledger=ledger.cash_usd(),
            cash_venue=venue.chain_cash,
            venue_errors=venue.errors,
        )
        self.ctx.status["reconcile"] = {"differences": len(confirmed), "ts": time.time()}
        return confirmed

    async def _reconcile_loop(self, adopted: bool) -> None:
        while not adopted and not self.ctx.stopping.is_set():
            try:
                await asyncio.wait_for(self.ctx.stopping.wait(), timeout=BACKLOG_POLL_SECS)
            except TimeoutError:
                pass
            try:
                adopted = await self.reconcile_on_start()
            except Exception:  # the timer below still compares
                log.exception("start reconciliation failed")
                adopted = True
        interval = self.settings.risk_reconcile_interval_secs
        while interval > 0 and not self.ctx.stopping.is_set():
            try:
                await asyncio.wait_for(self.ctx.stopping.wait(), timeout=interval)
            except TimeoutError:
                pass
            if self.ctx.stopping.is_set():
                return
            try:
                await self.reconcile_check()
            except Exception:  # a comparison must never take risk down
                log.exception("reconcile check failed")
                metrics.RECONCILE_RUNS.labels(outcome="failed").inc()

    async def run(self) -> None:
        log.info("risk settings: %s", redacted(self.settings))
        await self._sync_status()
        adopted = await self.reconcile_on_start()
        if self.region.url is not None:
            await self.region.check()  # before the first intent is judged
        # Declared on the runtime (one TaskGroup with the service's health): a task that dies takes risk
        # down with health red first; risk's state stays open until every task has finished.
        tasks = [
            self.ctx.consume(INTENTS, GROUP, self.on_intent),
            self.ctx.consume(FILLS, GROUP, self.on_fill),
            self.ctx.consume(CONTROL, GROUP, self.on_control),
            *(
                self.ctx.consume(
                    events_stream(shard),
                    MARKS_GROUP,
                    self.on_market_event,
                    batch_size=MARKS_BATCH,
                )
                for shard in self.settings.shards
            ),
            self.ctx.every("risk:refresh", REFRESH_SECS, self._refresh),
            self.ctx.every("risk:housekeeping", HOUSEKEEPING_SECS, self._housekeeping),
            # Returns at once when its settings switch it off.
            self.ctx.task("risk:reconcile", lambda: self._reconcile_loop(adopted), may_return=True),
        ]
        if self.region.url is not None:  # checked once above, before the first intent
            tasks.append(
                self.ctx.every(
                    "risk:region", self.settings.geoblock_check_secs, self._check_region, wait_first=True
                )
            )
        await self.ctx.stopping.wait()
        await self.ctx.join_tasks(tasks)


def build_main(settings: RiskSettings) -> ServiceMain:
    async def main(ctx: ServiceContext) -> None:
        # Half of the mode on screen (PAPER / LIVE / DRY RUN), published before anything else happens.
        ctx.status["dry_run"] = settings.dry_run
        metrics.RISK_DRY_RUN.set(int(settings.dry_run))
        state = RiskState(settings.db_path(), reset_minute_of_day=settings.reset_minute_of_day())
        try:
            await RiskService(settings, ctx, state).run()
        finally:
            state.close()

    return main
