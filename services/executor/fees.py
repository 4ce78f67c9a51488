"""Taker fees of our fills: CLOB V2 charges takers `shares x rate x (p(1-p))^exponent` (makers pay nothing),
with rate and exponent per market from `/clob-markets/{condition_id}` (`fd: {r, e}`). The user channel gives
only `fee_rate_bps`, so the schedule is read once per market and cached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, Decimal

log = logging.getLogger(__name__)

FEE_QUANTUM = Decimal("0.00001")  # the venue rounds fees to 5 decimals, down
Schedule = tuple[Decimal, Decimal]  # (rate, exponent)


def taker_fee(size: Decimal, price: Decimal, rate: Decimal, exponent: Decimal) -> Decimal:
    """The fee in pUSD a taker pays for `size` shares at `price` (symmetric in p and 1 - p)."""
    if rate <= 0 or size <= 0 or not 0 < price < 1:
        return Decimal(0)
    curve = (price * (1 - price)) ** exponent
    return (size * rate * curve).quantize(FEE_QUANTUM, rounding=ROUND_DOWN)


class FeeSchedules:
    """Per-market fee schedules, fetched on first use; a failed read costs a warning, not the fill report."""

    def __init__(self, fetch: Callable[[str], Awaitable[Schedule]]) -> None:
        self._fetch = fetch
        self._known: dict[str, Schedule] = {}

    def known(self, market: str) -> Schedule | None:
        """The market's schedule if already read (never reads it)."""
        return self._known.get(market)

    async def taker_fee(self, market: str, size: Decimal, price: Decimal) -> Decimal:
        schedule = self._known.get(market)
        if schedule is None:
            try:
                schedule = self._known[market] = await self._fetch(market)
            # Any failure: the fill is reported anyway; its fee is then 0, and the read retried.
            except Exception as error:  # noqa: BLE001
                log.warning("fee schedule of %s not read (%s): fee reported as 0", market, error)
                return Decimal(0)
        return taker_fee(size, price, *schedule)
