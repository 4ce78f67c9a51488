"""The hard rules every order intent must pass, as pure functions run in the seed's order (`RULES`).

Each rule returns a Verdict: pass, clamp (a new size; nothing else changes) or reject, always with the
rule's name and the numbers it compared. `evaluate` runs them in order and stops at the first reject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from shared.messages import Side

# Venue sizes carry two decimals; a clamped size is rounded down to them so it never exceeds the limit.
SIZE_STEP = Decimal("0.01")


class Outcome(StrEnum):
    PASS = "pass"
    CLAMP = "clamp"
    REJECT = "reject"


@dataclass(frozen=True)
class Limits:
    """The configured limits that apply to one intent (the time limit already chosen by its strategy)."""

    dry_run: bool
    max_trade_size_usd: Decimal
    max_daily_loss_usd: Decimal
    min_liquidity_usd: Decimal
    min_secs_to_resolution: int
    max_per_market_notional_usd: Decimal
    dedup_window_secs: float
    allow_self_trade: bool = False


@dataclass(frozen=True)
class RestingOrder:
    """One of our own open orders on the intent's token or, `complement`, on the other token of its market."""

    side: Side
    price: Decimal
    complement: bool


@dataclass(frozen=True)
class Situation:
    """What risk's state says at decision time."""

    now: float
    kill_switch_active: bool
    daily_pnl_usd: Decimal  # today's realized + unrealized
    volume_24h_usd: Decimal | None  # None: the market is unknown to risk
    end_date_ts: int | None
    market_closed: bool
    market_notional_usd: Decimal  # own open BUY orders + position cost in this market
    signal_approved_ts: float | None  # when this signal key was last approved
    settled_shares: Decimal = Decimal(0)  # of the intent's token, on chain (provisional ones cannot be sold)
    open_sell_size: Decimal = Decimal(0)  # own SELL orders already resting on the intent's token
    own_resting: tuple[RestingOrder, ...] = ()
    book_state: str | None = None  # the token's book as ingest last reported it (None: never reported)
    book_reason: str = ""  # why it is not valid
    trading_region: str = (
        "unchecked"  # the venue's geoblock answer: ok, close_only, blocked, unknown (region.py)
    )


@dataclass(frozen=True)
class Order:
    side: Side
    size: Decimal
    price: Decimal

    @property
    def notional_usd(self) -> Decimal:
        return self.size * self.price


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    rule: str
    detail: str = ""
    numbers: dict[str, Decimal] = field(default_factory=dict)
    size: Decimal | None = None  # the new size of a clamp


@dataclass(frozen=True)
class Decision:
    approved: bool
    rule: str | None  # the rule that rejected, or the one that clamped an approval
    detail: str
    numbers: dict[str, Decimal]
    requested_size: Decimal
    size: Decimal  # approved size (0 when rejected)


Rule = Callable[[Order, Situation, Limits], Verdict]


def _pass(rule: str, **numbers: Decimal) -> Verdict:
    return Verdict(Outcome.PASS, rule, numbers=numbers)


def _reject(rule: str, detail: str, **numbers: Decimal) -> Verdict:
    return Verdict(Outcome.REJECT, rule, detail, numbers)


def check_kill_switch(order: Order, s: Situation, limits: Limits) -> Verdict:
    if s.kill_switch_active:
        return _reject("KILL_SWITCH", "kill switch is on")
    return _pass("KILL_SWITCH")


def check_region(order: Order, s: Situation, limits: Limits) -> Verdict:
    """A geoblocked region trades nothing; a close-only one only reduces positions (SELLs of held shares,
    which UNSETTLED_INVENTORY then bounds by what is settled and not already offered)."""
    if s.trading_region == "blocked":
        return _reject("GEO_RESTRICTION", "the venue geoblocks this region: no orders")
    if s.trading_region == "close_only" and order.side is Side.BUY:
        return _reject("GEO_RESTRICTION", "close-only region: only orders that reduce a position pass")
    return _pass("GEO_RESTRICTION")


def check_book_valid(order: Order, s: Situation, limits: Limits) -> Verdict:
    # Prices decided on a stale, resyncing or gapped book would trade on prices the venue no longer has.
    if s.book_state is not None and s.book_state != "valid":
        return _reject("BOOK_NOT_VALID", f"book {s.book_state}: {s.book_reason or 'no reason given'}")
    return _pass("BOOK_NOT_VALID")


def check_dry_run(order: Order, s: Situation, limits: Limits) -> Verdict:
    if limits.dry_run:
        return _reject("DRY_RUN", "dry run: intent logged, nothing sent")
    return _pass("DRY_RUN")


def check_max_trade_size(order: Order, s: Situation, limits: Limits) -> Verdict:
    notional, limit = order.notional_usd, limits.max_trade_size_usd
    if notional <= limit or order.price == 0:
        return _pass("MAX_TRADE_SIZE_USD", notional_usd=notional, limit_usd=limit)
    size = (limit / order.price).quantize(SIZE_STEP, rounding=ROUND_FLOOR)
    if size <= 0:
        return _reject(
            "MAX_TRADE_SIZE_USD",
            f"clamped size of {notional} USD to 0",
            notional_usd=notional,
            limit_usd=limit,
        )
    return Verdict(
        Outcome.CLAMP,
        "MAX_TRADE_SIZE_USD",
        f"notional {notional} > {limit}: size {order.size} -> {size}",
        {"notional_usd": notional, "limit_usd": limit, "clamped_size": size},
        size,
    )


def check_daily_loss(order: Order, s: Situation, limits: Limits) -> Verdict:
    pnl, limit = s.daily_pnl_usd, limits.max_daily_loss_usd
    if pnl < -limit:
        return _reject(
            "MAX_DAILY_LOSS_USD", f"daily PnL {pnl} below -{limit}", daily_pnl_usd=pnl, limit_usd=limit
        )
    return _pass("MAX_DAILY_LOSS_USD", daily_pnl_usd=pnl, limit_usd=limit)


def check_liquidity(order: Order, s: Situation, limits: Limits) -> Verdict:
    limit = limits.min_liquidity_usd
    if s.volume_24h_usd is None:
        return _reject("MIN_LIQUIDITY_USD", "market unknown to risk", limit_usd=limit)
    if s.volume_24h_usd < limit:
        return _reject(
            "MIN_LIQUIDITY_USD",
            f"24h volume {s.volume_24h_usd} < {limit}",
            volume_24h_usd=s.volume_24h_usd,
            limit_usd=limit,
        )
    return _pass("MIN_LIQUIDITY_USD", volume_24h_usd=s.volume_24h_usd, limit_usd=limit)


def check_time_to_resolution(order: Order, s: Situation, limits: Limits) -> Verdict:
    limit = Decimal(limits.min_secs_to_resolution)
    if s.market_closed:
        return _reject("MIN_TIME_TO_RESOLUTION", "market closed or resolved", limit_secs=limit)
    # Fail closed: a market without an end date cannot be shown to be far enough from resolution.
    if s.end_date_ts is None:
        return _reject("MIN_TIME_TO_RESOLUTION", "market has no end date", limit_secs=limit)
    left = Decimal(s.end_date_ts) - Decimal(int(s.now))
    if left < limit:
        return _reject(
            "MIN_TIME_TO_RESOLUTION", f"{left}s to resolution < {limit}s", secs_left=left, limit_secs=limit
        )
    return _pass("MIN_TIME_TO_RESOLUTION", secs_left=left, limit_secs=limit)


def check_market_notional(order: Order, s: Situation, limits: Limits) -> Verdict:
    limit, held = limits.max_per_market_notional_usd, s.market_notional_usd
    # Selling what we hold only lowers exposure; the venue refuses to sell what we do not hold.
    added = order.notional_usd if order.side == Side.BUY else Decimal(0)
    after = held + added
    numbers = {
        "market_notional_usd": held,
        "order_notional_usd": added,
        "after_usd": after,
        "limit_usd": limit,
    }
    if order.side == Side.BUY and after > limit:
        return _reject("MAX_PER_MARKET_NOTIONAL", f"market notional {after} > {limit}", **numbers)
    return _pass("MAX_PER_MARKET_NOTIONAL", **numbers)


def check_unsettled_inventory(order: Order, s: Situation, limits: Limits) -> Verdict:
    """A SELL only of settled shares not already offered: shares of a MATCHED trade are not on chain yet
    (the venue refuses the sell, and the trade can still fail)."""
    if order.side != Side.SELL:
        return _pass("UNSETTLED_INVENTORY")
    free = s.settled_shares - s.open_sell_size
    numbers = {
        "sell_size": order.size,
        "settled_shares": s.settled_shares,
        "open_sell_size": s.open_sell_size,
    }
    if order.size > free:
        return _reject(
            "UNSETTLED_INVENTORY", f"sell {order.size} > {free} settled shares not already offered", **numbers
        )
    return _pass("UNSETTLED_INVENTORY", **numbers)


def crosses(order: Order, resting: RestingOrder) -> bool:
    """Whether `order` would trade with our own `resting` order. On the same token: opposite sides at
    crossing prices. Through the YES/NO mirror: two BUYs whose prices sum to 1 or more (a mint), two SELLs
    whose prices sum to 1 or less (a merge)."""
    if not resting.complement:
        if order.side == resting.side:
            return False
        return order.price >= resting.price if order.side == Side.BUY else order.price <= resting.price
    if order.side != resting.side:
        return False
    total = order.price + resting.price
    return total >= 1 if order.side == Side.BUY else total <= 1


def check_self_trade(order: Order, s: Situation, limits: Limits) -> Verdict:
    if limits.allow_self_trade:
        return _pass("SELF_TRADE")
    for resting in s.own_resting:
        if crosses(order, resting):
            where = "its complement" if resting.complement else "the same token"
            return _reject(
                "SELF_TRADE",
                f"would cross our own {resting.side} @ {resting.price} on {where}",
                order_price=order.price,
                resting_price=resting.price,
            )
    return _pass("SELF_TRADE")


def check_dedup(order: Order, s: Situation, limits: Limits) -> Verdict:
    window = Decimal(str(limits.dedup_window_secs))
    if s.signal_approved_ts is None:
        return _pass("DEDUP_WINDOW", window_secs=window)
    age = Decimal(str(round(s.now - s.signal_approved_ts, 3)))
    if age < window:
        return _reject(
            "DEDUP_WINDOW",
            f"signal key approved {age}s ago (window {window}s)",
            age_secs=age,
            window_secs=window,
        )
    return _pass("DEDUP_WINDOW", age_secs=age, window_secs=window)


# The seed's order (the kill switch before all); data, so the order is visible and tested in one place.
RULES: tuple[tuple[str, Rule], ...] = (
    ("KILL_SWITCH", check_kill_switch),
    ("GEO_RESTRICTION", check_region),
    ("BOOK_NOT_VALID", check_book_valid),
    ("DRY_RUN", check_dry_run),
    ("MAX_TRADE_SIZE_USD", check_max_trade_size),
    ("MAX_DAILY_LOSS_USD", check_daily_loss),
    ("MIN_LIQUIDITY_USD", check_liquidity),
    ("MIN_TIME_TO_RESOLUTION", check_time_to_resolution),
    ("MAX_PER_MARKET_NOTIONAL", check_market_notional),
    ("UNSETTLED_INVENTORY", check_unsettled_inventory),
    ("SELF_TRADE", check_self_trade),
    ("DEDUP_WINDOW", check_dedup),
)
RULE_NAMES: tuple[str, ...] = tuple(name for name, _ in RULES)


def evaluate(order: Order, situation: Situation, limits: Limits) -> Decision:
    """Run every rule in order; a clamp changes the size seen by later rules; the first reject decides."""
    requested, clamp = order.size, None
    for _, rule in RULES:
        verdict = rule(order, situation, limits)
        if verdict.outcome == Outcome.REJECT:
            return Decision(False, verdict.rule, verdict.detail, verdict.numbers, requested, Decimal(0))
        if verdict.outcome == Outcome.CLAMP:
            assert verdict.size is not None
            order, clamp = replace(order, size=verdict.size), verdict
    if clamp is not None:
        return Decision(True, clamp.rule, clamp.detail, clamp.numbers, requested, order.size)
    return Decision(True, None, "", {}, requested, order.size)


def price_limit(
    side: Side, price: Decimal, tick_size: Decimal, slippage_bps: int, min_ticks: int = 0
) -> Decimal:
    """The worst price the executor may use: `slippage_bps` away from `price` but at least `min_ticks` ticks,
    on the tick grid, inside (0, 1)."""
    move = max(price * Decimal(slippage_bps) / Decimal(10_000), tick_size * min_ticks)
    if side == Side.BUY:
        limit = ((price + move) / tick_size).to_integral_value(rounding=ROUND_FLOOR) * tick_size
        return max(price, min(limit, Decimal(1) - tick_size))
    limit = ((price - move) / tick_size).to_integral_value(rounding=ROUND_CEILING) * tick_size
    return min(price, max(limit, tick_size))
