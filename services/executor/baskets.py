"""All-or-none baskets (ApprovedBasket): legs posted together, then all filled, or the filled part unwound.

Policy (docs/execution.md), within `basket_timeout_secs` of the approval:
1. Every leg becomes a must-fill approval, all queued in one step so the submitter posts them in one
   POST /orders (at most 15 legs).
2. A leg that did not fill walks its must-fill phases (a worse price each time, never past the leg's price
   limit): the filled part of the basket is completed at a worse price within the limit.
3. When every leg has filled: `basket_complete`, with each leg's slippage (its order price past the target).
4. Otherwise, at the timeout or when a leg exhausted its phases: the legs still working are stopped (their
   approvals end, resting orders are cancelled) and every filled leg is unwound: sold back by FAK orders no
   worse than `basket_unwind_max_loss_bps` below the price paid, retried until `basket_unwind_secs` ran out.
   A bought leg is sold only once its trades are MINED (the venue refuses to sell shares not yet on chain),
   so `basket_unwind_secs` must outlast settlement: live, tens of seconds.
   `basket_unwound` reports what was filled, sold back and left naked (shares the policy could not sell
   within its loss bound; counted in polydesk_executor_basket_naked_shares).
A basket is recorded (SETTLING) before its legs are queued; after a restart `resume()` settles every basket
still SETTLING the same way, its time bound counted afresh from the restart.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from services.executor.config import ExecutorSettings
from services.executor.orders import OPEN_STATUSES, OrderStore
from services.executor.venue import Venue
from shared import metrics
from shared.errors import PolydeskError
from shared.logging import EventLog
from shared.messages import ApprovedBasket, ApprovedOrder, OrderStatus, OrderType, Side, deterministic_id

log = logging.getLogger(__name__)

POLL_SECS = 0.1
RESTING = (OrderStatus.LIVE, OrderStatus.DELAYED)


def leg_approvals(basket: ApprovedBasket) -> list[ApprovedOrder]:
    return [
        ApprovedOrder(
            envelope=basket.envelope,
            client_order_id=leg.client_order_id,
            intent_id=basket.intent_id,
            signal_key=basket.signal_key,
            strategy=basket.strategy,
            market=leg.market,
            token_id=leg.token_id,
            side=leg.side,
            size=leg.size,
            price=leg.price,
            price_limit=leg.price_limit,
            order_type=basket.order_type,
            must_fill=True,
            neg_risk=leg.neg_risk,
            tick_size=leg.tick_size,
        )
        for leg in basket.legs
    ]


class Baskets:
    def __init__(
        self,
        store: OrderStore,
        venue: Venue,
        wake: asyncio.Event,
        events: EventLog,
        settings: ExecutorSettings,
    ) -> None:
        self.store = store
        self.venue = venue
        self.wake = wake  # the submitter's: set when approvals are queued
        self.events = events
        self.settings = settings
        self.running: dict[str, asyncio.Task[None]] = {}

    def start(self, basket: ApprovedBasket) -> None:
        legs = leg_approvals(basket)
        if not self.store.add_basket(basket):
            log.info("basket %s already known: not posted again", basket.basket_id)
            return
        # No await between these: the submitter (same loop) sees every leg at once and posts them together.
        for leg in legs:
            self.store.add_approval(leg)
        self.wake.set()
        self.events.emit(
            "basket_posted",
            basket_id=basket.basket_id,
            strategy=basket.strategy,
            signal_key=basket.signal_key,
            market=basket.market,
            legs=[
                {
                    "client_order_id": a.client_order_id,
                    "token_id": a.token_id,
                    "side": a.side,
                    "size": a.size,
                    "price": a.price,
                    "price_limit": a.price_limit,
                }
                for a in legs
            ],
        )
        self.running[basket.basket_id] = asyncio.create_task(self._settle(basket, legs))

    def resume(self) -> None:
        """Settle the baskets a restart interrupted (legs not queued yet are queued now)."""
        for basket in self.store.settling_baskets():
            if basket.basket_id in self.running:
                continue
            legs = leg_approvals(basket)
            if any(self.store.add_approval(leg) for leg in legs):
                self.wake.set()
            self.events.emit(
                "basket_resumed",
                basket_id=basket.basket_id,
                strategy=basket.strategy,
                signal_key=basket.signal_key,
            )
            self.running[basket.basket_id] = asyncio.create_task(self._settle(basket, legs))

    async def stop(self) -> None:
        for task in self.running.values():
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)

    # ---- settling one basket ----------------------------------------------------------------------

    async def _settle(self, basket: ApprovedBasket, legs: list[ApprovedOrder]) -> None:
        try:
            await self._until(lambda: all(self._done(a) for a in legs), self.settings.basket_timeout_secs)
            filled = {a.client_order_id: self._filled(a.client_order_id) for a in legs}
            if all(filled[a.client_order_id] >= a.size for a in legs) and all(self._done(a) for a in legs):
                self._complete(basket, legs)
                self.store.set_basket_state(basket.basket_id, "COMPLETE")
                return
            await self._stop_legs(legs)
            filled = {a.client_order_id: self._filled(a.client_order_id) for a in legs}
            await self._unwind(basket, legs, filled)
            self.store.set_basket_state(basket.basket_id, "UNWOUND")
        except asyncio.CancelledError:
            raise
        except Exception:  # a basket's bookkeeping must never take the executor down
            log.exception("basket %s not settled", basket.basket_id)
        finally:
            self.running.pop(basket.basket_id, None)

    def _done(self, approval: ApprovedOrder) -> bool:
        row = self.store.approval(approval.client_order_id)
        if row is None or row.state != "DONE":
            return False
        return not any(o.status in OPEN_STATUSES for o in self.store.orders_of(approval.client_order_id))

    def _filled(self, client_order_id: str) -> Decimal:
        return sum((o.size_matched for o in self.store.orders_of(client_order_id)), Decimal(0))

    def _settled(self, client_order_id: str) -> bool:
        """Every trade of the leg's orders is settled on chain (MINED or CONFIRMED) or FAILED."""
        final = {"MINED", "CONFIRMED", "FAILED"}
        for order in self.store.orders_of(client_order_id):
            if order.size_matched <= 0:
                continue
            trades = self.store.trade_statuses_of(order.order_hash)
            if not trades or any(not (statuses & final) for statuses in trades.values()):
                return False
        return True

    def _paid(self, client_order_id: str) -> Decimal | None:
        """The worst order price that filled (what the leg paid at most per share)."""
        prices = [o.price for o in self.store.orders_of(client_order_id) if o.size_matched > 0]
        return max(prices) if prices else None

    async def _until(self, condition, timeout_secs: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_secs
        while not condition():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(POLL_SECS)
        return True

    def _complete(self, basket: ApprovedBasket, legs: list[ApprovedOrder]) -> None:
        report = []
        for a in legs:
            paid = self._paid(a.client_order_id) or a.price
            worse = paid - a.price if a.side is Side.BUY else a.price - paid
            slippage_bps = (worse / a.price * 10_000).quantize(Decimal("0.1"))
            metrics.EXECUTOR_BASKET_LEG_SLIPPAGE_BPS.observe(float(slippage_bps))
            report.append(
                {
                    "client_order_id": a.client_order_id,
                    "token_id": a.token_id,
                    "target": a.price,
                    "paid": paid,
                    "slippage_bps": slippage_bps,
                    "size": a.size,
                }
            )
        metrics.EXECUTOR_BASKETS.labels(outcome="complete").inc()
        self.events.emit(
            "basket_complete",
            basket_id=basket.basket_id,
            strategy=basket.strategy,
            signal_key=basket.signal_key,
            market=basket.market,
            legs=report,
        )

    async def _stop_legs(self, legs: list[ApprovedOrder]) -> None:
        """End every leg still working: no further phase, resting orders cancelled."""
        resting = []
        for a in legs:
            row = self.store.approval(a.client_order_id)
            if row is not None and row.state != "DONE":
                self.store.set_approval(a.client_order_id, state="DONE", outcome="basket: stopped to unwind")
            resting += [o.order_hash for o in self.store.orders_of(a.client_order_id) if o.status in RESTING]
        if resting:
            try:
                await self.venue.cancel(resting)
            except PolydeskError as error:
                log.warning("basket legs not cancelled (%s): the reconciler settles them", error)
        # An order posted a moment ago may still be PENDING/UNKNOWN: give the tracker a moment to settle it.
        await self._until(lambda: all(self._done(a) for a in legs), self.settings.basket_unwind_secs / 2)

    async def _unwind(
        self, basket: ApprovedBasket, legs: list[ApprovedOrder], filled: dict[str, Decimal]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.basket_unwind_secs
        report: list[dict[str, Any]] = []
        for a in legs:
            held = filled[a.client_order_id]
            sold = Decimal(0)
            attempt = 0
            if held > 0 and a.side is Side.BUY:
                # Shares bought reach the wallet when their trade is MINED: a sell before that is refused
                # by the venue (`not enough balance / allowance`), so the unwind waits for settlement.
                settled = await self._until(
                    lambda a=a: self._settled(a.client_order_id), max(deadline - loop.time(), 0)
                )
                if not settled:
                    self.events.emit(
                        "basket_unwind_unsettled",
                        basket_id=basket.basket_id,
                        client_order_id=a.client_order_id,
                        held=held,
                    )
            while held - sold > 0 and loop.time() < deadline:
                attempt += 1
                order = self._unwind_order(basket, a, held - sold, attempt)
                self.store.add_approval(order)
                self.wake.set()
                await self._until(lambda o=order: self._done(o), max(deadline - loop.time(), 0))
                sold += self._filled(order.client_order_id)
                if held - sold > 0:
                    await asyncio.sleep(min(1.0, max(deadline - loop.time(), 0)))
            naked = held - sold
            if naked > 0:
                metrics.EXECUTOR_BASKET_NAKED_SHARES.inc(float(naked))
            report.append(
                {
                    "client_order_id": a.client_order_id,
                    "token_id": a.token_id,
                    "size": a.size,
                    "filled": held,
                    "sold_back": sold,
                    "naked": naked,
                    "attempts": attempt,
                }
            )
        metrics.EXECUTOR_BASKETS.labels(outcome="unwound").inc()
        naked_total = sum((r["naked"] for r in report), Decimal(0))
        self.events.emit(
            "basket_unwound",
            basket_id=basket.basket_id,
            strategy=basket.strategy,
            signal_key=basket.signal_key,
            market=basket.market,
            legs=report,
            naked=naked_total,
        )
        if naked_total > 0:
            log.error("basket %s unwound with %s share(s) left naked", basket.basket_id, naked_total)

    def _unwind_order(
        self, basket: ApprovedBasket, leg: ApprovedOrder, size: Decimal, attempt: int
    ) -> ApprovedOrder:
        paid = self._paid(leg.client_order_id) or leg.price
        loss = Decimal(self.settings.basket_unwind_max_loss_bps) / 10_000
        tick = leg.tick_size
        if leg.side is Side.BUY:  # sell back, no lower than the bound (rounded up: never past it)
            side, floor = Side.SELL, paid * (1 - loss)
            price = (floor / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        else:
            side, floor = Side.BUY, paid * (1 + loss)
            price = (floor / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
        price = min(max(price, tick), 1 - tick)
        return ApprovedOrder(
            envelope=basket.envelope,
            client_order_id=deterministic_id("unwind", leg.client_order_id, str(attempt)),
            intent_id=basket.intent_id,
            signal_key=f"{basket.signal_key}:unwind",
            strategy=basket.strategy,
            market=leg.market,
            token_id=leg.token_id,
            side=side,
            size=size,
            price=price,
            price_limit=price,
            order_type=OrderType.FAK,
            neg_risk=leg.neg_risk,
            tick_size=tick,
        )
