"""Deciding a basket (BasketIntent) as one unit: one decision for all legs, every leg sized by one factor.

Every rule runs on every leg (kill switch, region, book, dry run, loss, liquidity, time to resolution,
settled inventory, self trade, dedup per leg) and a reject of any leg rejects the basket. The size rules
then apply to the whole: MAX_TRADE_SIZE_USD to the basket's total notional, MAX_PER_MARKET_NOTIONAL to
all of its legs in a market together. The tightest of them sets one factor for every leg, so a clamped
basket stays balanced (equal shares per leg); a factor that takes a leg below its market's minimum order
size rejects the basket. Before, each leg was clamped alone: a 204-share basket came out 111 / 151 / 204.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from services.risk import killswitch
from services.risk.checks import SIZE_STEP, Decision, Order, evaluate, price_limit
from services.risk.decisions import log_rejection
from services.risk.handling import Effects
from shared import metrics
from shared.messages import (
    ApprovedBasket,
    ApprovedBasketLeg,
    BasketIntent,
    BasketLeg,
    Envelope,
    OrderIntent,
    RiskDecision,
    Side,
    deterministic_id,
)
from shared.streams import APPROVED_ORDERS, Output

PRODUCER = "risk"
DECISIONS = "decisions"
LOSS_RULE = "MAX_DAILY_LOSS_USD"


def leg_client_order_id(intent_id: str, leg: BasketLeg) -> str:
    return deterministic_id("order", intent_id, leg.token_id, leg.side.value)


def _leg_intent(basket: BasketIntent, leg: BasketLeg) -> OrderIntent:
    """One leg seen as an order intent, for the per-leg situation (dedup key, book, inventory)."""
    return OrderIntent(
        envelope=basket.envelope,
        token_id=leg.token_id,
        side=leg.side,
        size=leg.size,
        price=leg.price,
        order_type=basket.order_type,
        reason=basket.reason,
        strategy=basket.strategy,
        signal_key=basket.signal_key,
        market=leg.market,
        must_fill=True,
    )


def _envelope(kind: str, cause: BasketIntent) -> Envelope:
    return Envelope.new(PRODUCER, cause=cause, message_id=deterministic_id(kind, cause.envelope.message_id))


class BasketDecider:
    def __init__(self, decider) -> None:  # services.risk.decisions.Decider (its limits, situation, state)
        self.decider = decider
        self.state = decider.state
        self.settings = decider.settings

    def decide(self, basket: BasketIntent, fx: Effects) -> Decision:
        requested = max(leg.size for leg in basket.legs)
        decision = self._judge(basket, requested)
        dry_run = decision.rule == "DRY_RUN"
        fx.outputs.append(
            Output(
                DECISIONS,
                RiskDecision(
                    envelope=_envelope("decision", basket),
                    intent_id=basket.envelope.message_id,
                    signal_key=basket.signal_key,
                    strategy=basket.strategy,
                    approved=decision.approved,
                    rule=decision.rule,
                    detail=decision.detail,
                    numbers=decision.numbers,
                    requested_size=requested,
                    approved_size=decision.size,
                    dry_run=dry_run,
                ),
            )
        )
        fx.event(
            "basket_intent",
            intent_id=basket.envelope.message_id,
            signal_key=basket.signal_key,
            strategy=basket.strategy,
            market=basket.market,
            reason=basket.reason,
            dry_run=self.settings.dry_run,
            legs=[
                {"token_id": leg.token_id, "side": leg.side, "price": leg.price, "size": leg.size}
                for leg in basket.legs
            ],
        )
        if decision.approved:
            self._approve(basket, decision, requested, fx)
        else:
            self._reject(basket, decision, dry_run, fx)
        return decision

    def _judge(self, basket: BasketIntent, requested: Decimal) -> Decision:
        limits = self.decider.limits(basket.strategy)
        factor = Decimal(1)
        clamp: Decision | _Clamp | None = None
        for index, leg in enumerate(basket.legs, start=1):
            market = self.state.market(leg.market)
            verdict = evaluate(
                Order(leg.side, leg.size, leg.price),
                self.decider.situation(_leg_intent(basket, leg), market),
                limits,
            )
            if not verdict.approved:
                return Decision(
                    False,
                    verdict.rule,
                    f"leg {index} ({leg.token_id}): {verdict.detail}",
                    verdict.numbers,
                    requested,
                    Decimal(0),
                )
            if verdict.size < leg.size and verdict.size / leg.size < factor:
                factor, clamp = verdict.size / leg.size, verdict
        total = sum((leg.size * leg.price for leg in basket.legs), Decimal(0))
        if total * factor > limits.max_trade_size_usd:
            factor = limits.max_trade_size_usd / total
            clamp = _whole(
                "MAX_TRADE_SIZE_USD",
                f"basket notional {total} > {limits.max_trade_size_usd}",
                basket_notional_usd=total,
                limit_usd=limits.max_trade_size_usd,
            )
        for market_id in sorted({leg.market for leg in basket.legs}):
            spend = sum(
                (
                    leg.size * leg.price
                    for leg in basket.legs
                    if leg.market == market_id and leg.side is Side.BUY
                ),
                Decimal(0),
            )
            room = limits.max_per_market_notional_usd - self.state.market_notional(market_id)
            if spend * factor > room:
                factor = max(room, Decimal(0)) / spend
                clamp = _whole(
                    "MAX_PER_MARKET_NOTIONAL",
                    f"the basket's buys in {market_id}: {spend} > room {room}",
                    basket_market_notional_usd=spend,
                    room_usd=room,
                )
        sizes = [_step(leg.size * factor) for leg in basket.legs]
        for leg, size in zip(basket.legs, sizes, strict=True):
            market = self.state.market(leg.market)
            minimum = market.min_order_size if market is not None else Decimal(0)
            if size <= 0 or size < minimum:
                rule = clamp.rule if clamp is not None else "MAX_TRADE_SIZE_USD"
                return Decision(
                    False,
                    rule,
                    f"basket clamped to {size} shares, below {leg.token_id}'s minimum {minimum}",
                    {"size": size, "min_order_size": minimum},
                    requested,
                    Decimal(0),
                )
        size = min(sizes)
        if clamp is None:
            return Decision(True, None, "", {}, requested, size)
        return Decision(True, clamp.rule, clamp.detail, clamp.numbers, requested, size)

    def _approve(self, basket: BasketIntent, decision: Decision, requested: Decimal, fx: Effects) -> None:
        intent_id = basket.envelope.message_id
        factor = decision.size / requested
        legs = []
        for leg in basket.legs:
            market = self.state.market(leg.market)
            assert market is not None  # MIN_LIQUIDITY_USD rejects unknown markets
            size = _step(leg.size * factor)
            legs.append(
                ApprovedBasketLeg(
                    client_order_id=leg_client_order_id(intent_id, leg),
                    market=leg.market,
                    token_id=leg.token_id,
                    side=leg.side,
                    size=size,
                    price=leg.price,
                    tick_size=market.tick_size,
                    neg_risk=market.neg_risk,
                    price_limit=price_limit(
                        leg.side,
                        leg.price,
                        market.tick_size,
                        self.settings.risk_price_limit_bps,
                        self.settings.risk_price_limit_min_ticks,
                    ),
                )
            )
            self.state.approve_signal(f"{basket.signal_key}|{leg.token_id}|{leg.side.value}")
            self.state.upsert_open_order(
                legs[-1].client_order_id, leg.market, leg.token_id, leg.side, leg.price, size
            )
        approved = ApprovedBasket(
            envelope=_envelope("approved", basket),
            basket_id=deterministic_id("basket", intent_id),
            intent_id=intent_id,
            signal_key=basket.signal_key,
            strategy=basket.strategy,
            market=basket.market,
            order_type=basket.order_type,
            legs=tuple(legs),
            clamped_from_size=requested if decision.size != requested else None,
        )
        fx.outputs.append(Output(APPROVED_ORDERS, approved))
        fx.event(
            "risk_approve",
            intent_id=intent_id,
            basket_id=approved.basket_id,
            signal_key=basket.signal_key,
            strategy=basket.strategy,
            market=basket.market,
            size=decision.size,
            requested_size=requested,
            rule=decision.rule,
            detail=decision.detail,
            numbers=decision.numbers,
            legs=[
                {
                    "client_order_id": leg.client_order_id,
                    "token_id": leg.token_id,
                    "size": leg.size,
                    "price": leg.price,
                    "price_limit": leg.price_limit,
                }
                for leg in legs
            ],
        )
        fx.after.append(lambda: metrics.RISK_DECISIONS.labels(outcome="approved").inc())

    def _reject(self, basket: BasketIntent, decision: Decision, dry_run: bool, fx: Effects) -> None:
        rule = log_rejection(fx, basket, decision, decision.requested_size, dry_run, basket=True)
        fx.after.append(
            lambda: metrics.RISK_DECISIONS.labels(outcome="dry_run" if dry_run else "rejected").inc()
        )
        if rule == LOSS_RULE:
            killswitch.trip_on_loss(self.state, fx, reason=decision.detail, cause=basket)


def _step(size: Decimal) -> Decimal:
    return (size / SIZE_STEP).to_integral_value(rounding=ROUND_FLOOR) * SIZE_STEP


class _Clamp:
    def __init__(self, rule: str, detail: str, numbers: dict[str, Decimal]) -> None:
        self.rule, self.detail, self.numbers = rule, detail, numbers


def _whole(rule: str, detail: str, **numbers: Decimal) -> _Clamp:
    return _Clamp(rule, detail, numbers)
