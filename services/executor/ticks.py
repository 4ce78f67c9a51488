"""Tick size changes reach the executor at once (TickSizeChanged on `control`): each market's current tick,
and what a queued approval becomes under it. An approval's price off the new grid is moved in our favour
(a BUY down, a SELL up), so it is never worse for us than the approval's price and price limit; a price
that leaves [tick, 1 - tick] or passes the limit is refused, never posted to be rejected."""

from __future__ import annotations

from decimal import Decimal

from services.executor.phases import on_tick
from shared.messages import ApprovedOrder, Side


class TickSizes:
    """The latest tick the venue announced per market (absent: the approval's own tick stands)."""

    def __init__(self) -> None:
        self.by_market: dict[str, Decimal] = {}

    def set(self, market: str, tick: Decimal) -> None:
        self.by_market[market] = tick

    def of(self, approval: ApprovedOrder) -> Decimal:
        return self.by_market.get(approval.market, approval.tick_size)


def retick(approval: ApprovedOrder, tick: Decimal) -> Decimal | None:
    """The approval's price on `tick`'s grid, rounded in our favour; None when that price is not a valid
    order price under `tick` or is worse than the approval's price limit."""
    price = on_tick(approval.price, tick, approval.side)
    if price < tick or price > 1 - tick:
        return None
    if (approval.side is Side.BUY and price > approval.price_limit) or (
        approval.side is Side.SELL and price < approval.price_limit
    ):
        return None
    return price
