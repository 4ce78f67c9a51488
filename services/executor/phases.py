"""The three-phase price plan for must-fill orders, on the tick grid and capped by the price limit.

Phase 1 is the target price; phase 2 moves it `phase2_offset_bps` toward a worse price (up for a BUY,
down for a SELL) and phase 3 `max_slippage_bps` away, all rounded onto the grid in our favour (so phase 3
never goes past the max slippage on its own). Each phase is at least `min_step_ticks` ticks worse than the
one before: at tick 0.01 a 1.5 % step of a 0.30 price is a fraction of a tick, and without that floor
phases 2 and 3 collapsed onto phase 1. Risk's price limit leaves room for it (at least two ticks by
default). Every price is then capped at the risk-approved limit (rounded onto the grid in our favour) and
kept in [tick, 1 - tick]; a phase that would not be worse than the one before is skipped, so the plan
stops at the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from shared.messages import Side


@dataclass(frozen=True)
class Phase:
    number: int  # 1, 2 or 3
    price: Decimal
    label: str  # "target", "offset", "max_slippage"


def on_tick(price: Decimal, tick: Decimal, side: Side, *, favourable: bool = True) -> Decimal:
    """`price` on the tick grid: in our favour (BUY down, SELL up), or toward the worse side."""
    down = (side is Side.BUY) == favourable
    steps = (price / tick).to_integral_value(rounding=ROUND_FLOOR if down else ROUND_CEILING)
    return (steps * tick).quantize(tick)


def _worse(price: Decimal, fraction: Decimal, side: Side) -> Decimal:
    return price * (1 + fraction) if side is Side.BUY else price * (1 - fraction)


def _ticks_worse(price: Decimal, ticks: int, tick: Decimal, side: Side) -> Decimal:
    return price + ticks * tick if side is Side.BUY else price - ticks * tick


def _worst(a: Decimal, b: Decimal, side: Side) -> Decimal:
    return max(a, b) if side is Side.BUY else min(a, b)


def _clamp(price: Decimal, limit: Decimal, tick: Decimal, side: Side) -> Decimal:
    limit = on_tick(limit, tick, side)
    price = min(price, limit) if side is Side.BUY else max(price, limit)
    return min(max(price, tick), 1 - tick)


def plan(
    *,
    side: Side,
    target: Decimal,
    limit: Decimal,
    tick: Decimal,
    must_fill: bool,
    phase2_offset_bps: int,
    max_slippage_bps: int,
    min_step_ticks: int = 1,
) -> list[Phase]:
    """The phases to try in order: one at the target, or up to three for a must-fill order.

    Raises ValueError when the target itself is already past the limit (risk would not approve that).
    """
    if (side is Side.BUY and target > limit) or (side is Side.SELL and target < limit):
        raise ValueError(f"target {target} is past the price limit {limit} for a {side}")
    first = _clamp(on_tick(target, tick, side), limit, tick, side)
    phases = [Phase(1, first, "target")]
    if not must_fill:
        return phases
    candidates = (
        (2, _worse(target, Decimal(phase2_offset_bps) / 10_000, side), "offset"),
        (3, _worse(target, Decimal(max_slippage_bps) / 10_000, side), "max_slippage"),
    )
    previous = first
    for number, raw, label in candidates:
        wanted = _worst(on_tick(raw, tick, side), _ticks_worse(previous, min_step_ticks, tick, side), side)
        price = _clamp(wanted, limit, tick, side)
        if _is_worse(price, phases[-1].price, side):
            phases.append(Phase(number, price, label))
        previous = wanted
    return phases


def _is_worse(price: Decimal, previous: Decimal, side: Side) -> bool:
    return price > previous if side is Side.BUY else price < previous
