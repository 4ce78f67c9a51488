"""Deciding one intent: gather the situation from state, run the checks, and build the decision's outputs.

Ids derive from the intent's message id (decision, client order id, approved order), so a replay of
the same intent can only ever produce the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from services.risk import killswitch
from services.risk.checks import Decision, Limits, Order, RestingOrder, Situation, evaluate, price_limit
from services.risk.config import RiskSettings
from services.risk.handling import Effects
from services.risk.state import MarketRow, RiskState
from shared import metrics
from shared.messages import (
    ApprovedCancelV2,
    ApprovedOrder,
    BasketIntent,
    CancelIntent,
    Envelope,
    Message,
    OrderIntent,
    RiskDecision,
    Side,
    deterministic_id,
)
from shared.streams import APPROVED_ORDERS, Output

PRODUCER = "risk"
DECISIONS = "decisions"  # every RiskDecision, for strategies and dashboards; risk trims it (no group acks it)
LOSS_RULE = "MAX_DAILY_LOSS_USD"


def client_order_id(intent_id: str) -> str:
    return deterministic_id("order", intent_id)


def _envelope(kind: str, cause: Message) -> Envelope:
    return Envelope.new(PRODUCER, cause=cause, message_id=deterministic_id(kind, cause.envelope.message_id))


def dedup_key(intent: OrderIntent) -> str:
    """What DEDUP_WINDOW compares: the signal key per leg, since one signal (an arbitrage opportunity, a
    two-sided quote) legitimately yields one order per token and side."""
    return f"{intent.signal_key}|{intent.token_id}|{intent.side.value}"


class Decider:
    """Turns intents into decisions against the limits in `settings` and the numbers in `state`."""

    def __init__(self, settings: RiskSettings, state: RiskState) -> None:
        self.settings = settings
        self.state = state
        self.region: Callable[[], str] = lambda: "unchecked"  # the service points it at its RegionWatch
        self._limits: dict[str, Limits] = {}  # by strategy: the settings are frozen

    def limits(self, strategy: str) -> Limits:
        limits = self._limits.get(strategy)
        if limits is None:
            limits = self._limits[strategy] = self._limits_of(strategy)
        return limits

    def _limits_of(self, strategy: str) -> Limits:
        s = self.settings
        return Limits(
            dry_run=s.dry_run,
            max_trade_size_usd=s.max_trade_size_usd,
            max_daily_loss_usd=s.max_daily_loss_usd,
            min_liquidity_usd=s.min_liquidity_usd,
            min_secs_to_resolution=s.min_secs_to_resolution(strategy),
            max_per_market_notional_usd=s.max_per_market_notional_usd,
            dedup_window_secs=s.dedup_window_secs,
            allow_self_trade=s.allow_self_trade,
        )

    def situation(self, intent: OrderIntent, market: MarketRow | None) -> Situation:
        realized, unrealized = self.state.daily_pnl()
        tokens = [intent.token_id]
        if market is not None:
            siblings = self.state.tokens_of_market(market.condition_id)
            if len(siblings) == 2 and intent.token_id in siblings:  # the YES/NO mirror of a binary market
                tokens = siblings
        resting = self.state.open_orders(tokens)
        book = self.state.book_status(intent.token_id)  # None: ingest never reported on this token
        return Situation(
            now=self.state.clock(),
            kill_switch_active=self.state.kill_switch().active,
            daily_pnl_usd=realized + unrealized,
            volume_24h_usd=market.volume_24h_usd if market else None,
            end_date_ts=market.end_date_ts if market else None,
            market_closed=market.closed if market else False,
            market_notional_usd=self.state.market_notional(intent.market),
            signal_approved_ts=self.state.signal_approved_ts(dedup_key(intent)),
            settled_shares=self.state.ledger.position(intent.token_id).settled,
            open_sell_size=sum(
                (r for t, side, _, r in resting if t == intent.token_id and side == Side.SELL), Decimal(0)
            ),
            own_resting=tuple(
                RestingOrder(side, price, t != intent.token_id) for t, side, price, _ in resting
            ),
            book_state=book.state if book else None,
            book_reason=book.reason if book else "",
            trading_region=self.region(),
        )

    def decide(self, intent: OrderIntent, fx: Effects) -> Decision:
        """Evaluate `intent` and add its outputs and events to `fx` (inside the caller's transaction)."""
        market = self.state.market(intent.market)
        decision = evaluate(
            Order(intent.side, intent.size, intent.price),
            self.situation(intent, market),
            self.limits(intent.strategy),
        )
        dry_run = decision.rule == "DRY_RUN"
        fx.outputs.append(Output(DECISIONS, self._decision_message(intent, decision, dry_run)))
        fx.event(
            "order_intent",
            intent_id=intent.envelope.message_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            market=intent.market,
            token_id=intent.token_id,
            side=intent.side,
            size=intent.size,
            price=intent.price,
            reason=intent.reason,
            dry_run=self.settings.dry_run,
        )
        if decision.approved:
            assert market is not None  # MIN_LIQUIDITY_USD rejects unknown markets
            self._approve(intent, decision, market, fx)
        else:
            self._reject(intent, decision, dry_run, fx)
        return decision

    def _decision_message(self, intent: OrderIntent, decision: Decision, dry_run: bool) -> RiskDecision:
        return RiskDecision(
            envelope=_envelope("decision", intent),
            intent_id=intent.envelope.message_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            approved=decision.approved,
            rule=decision.rule,
            detail=decision.detail,
            numbers=decision.numbers,
            requested_size=decision.requested_size,
            approved_size=decision.size,
            dry_run=dry_run,
        )

    def _approve(self, intent: OrderIntent, decision: Decision, market: MarketRow, fx: Effects) -> None:
        intent_id = intent.envelope.message_id
        order = ApprovedOrder(
            envelope=_envelope("approved", intent),
            client_order_id=client_order_id(intent_id),
            intent_id=intent_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            market=intent.market,
            token_id=intent.token_id,
            side=intent.side,
            size=decision.size,
            price=intent.price,
            price_limit=price_limit(
                intent.side,
                intent.price,
                market.tick_size,
                self.settings.risk_price_limit_bps,
                self.settings.risk_price_limit_min_ticks,
            ),
            order_type=intent.order_type,
            post_only=intent.post_only,
            must_fill=intent.must_fill,
            expiration_ts=intent.expiration_ts,
            neg_risk=market.neg_risk,
            tick_size=market.tick_size,
            clamped_from_size=decision.requested_size if decision.size != decision.requested_size else None,
        )
        self.state.approve_signal(dedup_key(intent))
        # Counted as open at once, so the next intent sees it before the executor reports the placement.
        self.state.upsert_open_order(
            order.client_order_id, order.market, order.token_id, order.side, order.price, order.size
        )
        fx.outputs.append(Output(APPROVED_ORDERS, order))
        fx.event(
            "risk_approve",
            intent_id=intent_id,
            client_order_id=order.client_order_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            market=intent.market,
            size=order.size,
            requested_size=intent.size,
            price=order.price,
            price_limit=order.price_limit,
            rule=decision.rule,
            detail=decision.detail,
            numbers=decision.numbers,
        )
        fx.after.append(lambda: metrics.RISK_DECISIONS.labels(outcome="approved").inc())

    def _reject(self, intent: OrderIntent, decision: Decision, dry_run: bool, fx: Effects) -> None:
        rule = log_rejection(fx, intent, decision, intent.size, dry_run)
        fx.after.append(
            lambda: metrics.RISK_DECISIONS.labels(outcome="dry_run" if dry_run else "rejected").inc()
        )
        if rule == LOSS_RULE:
            killswitch.trip_on_loss(self.state, fx, reason=decision.detail, cause=intent)

    def pass_cancel(self, intent: CancelIntent, fx: Effects) -> None:
        """Cancels only lower risk: they pass always, kill switch and dry run included."""
        cancel = ApprovedCancelV2(
            envelope=_envelope("approved", intent),
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            market=intent.market,
            client_order_ids=intent.client_order_ids,
            of_signal_key=getattr(intent, "of_signal_key", None),
        )
        decision = RiskDecision(
            envelope=_envelope("decision", intent),
            intent_id=intent.envelope.message_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            approved=True,
            detail="cancel",
            requested_size=Decimal(0),
        )
        fx.outputs += [Output(DECISIONS, decision), Output(APPROVED_ORDERS, cancel)]
        fx.event(
            "risk_approve",
            intent_id=intent.envelope.message_id,
            signal_key=intent.signal_key,
            strategy=intent.strategy,
            market=intent.market,
            cancel=True,
            client_order_ids=list(intent.client_order_ids),
            of_signal_key=cancel.of_signal_key,
        )


def log_rejection(
    fx: Effects,
    intent: OrderIntent | BasketIntent,
    decision: Decision,
    requested_size: Decimal | None,
    dry_run: bool,
    **extra: object,
) -> str:
    """The `risk_reject` line and its counter, alike for an order and a basket; returns the rule."""
    rule = decision.rule or "UNKNOWN"
    fx.event(
        "risk_reject",
        intent_id=intent.envelope.message_id,
        signal_key=intent.signal_key,
        strategy=intent.strategy,
        market=intent.market,
        rule=rule,
        detail=decision.detail,
        numbers=decision.numbers,
        requested_size=requested_size,
        dry_run=dry_run,
        **extra,
    )
    fx.after.append(lambda: metrics.RISK_REJECTIONS.labels(rule=rule).inc())
    return rule
