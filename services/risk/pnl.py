"""PnL arithmetic, pure: a fill's effect on a position (average cost), unrealized PnL at marks, the trading day.

A fill's effect is kept as additive deltas (size, cost, realized) so that a FAILED trade is reversed
exactly by subtracting them, whatever fills came in between.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from shared.messages import Side

ZERO = Decimal(0)


@dataclass(frozen=True)
class Position:
    token_id: str
    market: str
    size: Decimal  # shares held
    cost_usd: Decimal  # cost basis of those shares

    @property
    def avg_price(self) -> Decimal:
        return self.cost_usd / self.size if self.size else ZERO


@dataclass(frozen=True)
class FillEffect:
    d_size: Decimal
    d_cost: Decimal
    d_realized: Decimal


def fill_effect(held_size: Decimal, held_cost: Decimal, side: Side, size: Decimal, price: Decimal,
                fee_usd: Decimal) -> FillEffect:
    """The deltas one fill makes to a position of `held_size` shares costing `held_cost`; fees are realized."""
    if side == Side.BUY:
        return FillEffect(size, size * price, -fee_usd)
    avg = held_cost / held_size if held_size > 0 else price
    # Only shares we hold have a cost basis; anything sold beyond them realizes nothing against cost.
    closed = min(size, max(held_size, ZERO))
    return FillEffect(-size, -closed * avg, closed * (price - avg) - fee_usd)


def unrealized_usd(positions: Iterable[Position], marks: dict[str, Decimal]) -> Decimal:
    """Mark-to-market gain of the positions; a token without a mark counts at cost (no gain, no loss)."""
    total = ZERO
    for position in positions:
        mark = marks.get(position.token_id)
        if mark is not None:
            total += position.size * mark - position.cost_usd
    return total


def exposure_usd(positions: Iterable[Position], marks: dict[str, Decimal]) -> Decimal:
    """What the positions are worth at marks (at cost where no mark is known)."""
    return sum((p.size * marks[p.token_id] if p.token_id in marks else p.cost_usd for p in positions), ZERO)


def trading_day(ts: float, reset_minute_of_day: int) -> str:
    """The trading day (ISO date) that `ts` belongs to when days start at `reset_minute_of_day` UTC."""
    shifted = dt.datetime.fromtimestamp(ts, tz=dt.UTC) - dt.timedelta(minutes=reset_minute_of_day)
    return shifted.date().isoformat()


def mark_from_top(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    """The mark of a long position: the best bid (what selling would fetch), else the best ask."""
    return best_bid if best_bid is not None else best_ask
