"""PnL arithmetic on ledger positions, pure: unrealized PnL and exposure at marks, the trading day, the mark.

How a fill moves a position (average cost, statuses, resolution) is shared.ledger's, the same for strategy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from shared.ledger import ZERO, TokenPosition

__all__ = ["ZERO", "exposure_usd", "mark_from_top", "trading_day", "unrealized_usd"]


def unrealized_usd(positions: Iterable[TokenPosition], marks: dict[str, Decimal]) -> Decimal:
    """Mark-to-market gain of the positions (a resolved token at its payout; no mark: at cost)."""
    return sum((p.unrealized_usd(marks) for p in positions), ZERO)


def exposure_usd(positions: Iterable[TokenPosition], marks: dict[str, Decimal]) -> Decimal:
    """What the positions are worth at marks (at cost where no mark is known)."""
    total = ZERO
    for position in positions:
        mark = position.mark(marks)
        total += position.cost_usd if mark is None else position.size * mark
    return total


def trading_day(ts: float, reset_minute_of_day: int) -> str:
    """The trading day (ISO date) that `ts` belongs to when days start at `reset_minute_of_day` UTC."""
    shifted = dt.datetime.fromtimestamp(ts, tz=dt.UTC) - dt.timedelta(minutes=reset_minute_of_day)
    return shifted.date().isoformat()


def mark_from_top(best_bid: Decimal | None, best_ask: Decimal | None) -> Decimal | None:
    """The mark of a long position: the best bid (what selling would fetch), else the best ask."""
    return best_bid if best_bid is not None else best_ask
