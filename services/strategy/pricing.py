"""The tick grid and size rules of Polymarket prices (protocol §5.1-5.2): rounding, clamping, minimum size.

Makers round toward the passive side (a bid down, an ask up) so a quote never crosses by rounding;
takers round toward crossing (a buy up, a sell down) so a marketable order stays marketable.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from shared.messages import Side

SIZE_STEP = Decimal("0.01")  # sizes carry 2 decimals at every tick size (SDK ROUNDING_CONFIG)
ONE = Decimal(1)
BPS = Decimal(10_000)


def floor_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def ceil_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def clamp_price(price: Decimal, tick: Decimal) -> Decimal:
    """The price held inside the venue's valid range [tick, 1 - tick]."""
    return max(tick, min(ONE - tick, price))


def maker_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """On the grid, rounded away from the other side of the book, and inside [tick, 1 - tick]."""
    rounded = floor_to_tick(price, tick) if side is Side.BUY else ceil_to_tick(price, tick)
    return clamp_price(rounded, tick)


def taker_price(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """On the grid, rounded toward crossing the book, and inside [tick, 1 - tick]."""
    rounded = ceil_to_tick(price, tick) if side is Side.BUY else floor_to_tick(price, tick)
    return clamp_price(rounded, tick)


def floor_size(size: Decimal) -> Decimal:
    """Shares rounded down to the venue's size step (never more than asked for)."""
    return size.quantize(SIZE_STEP, rounding=ROUND_DOWN)


def tradable_size(size: Decimal, min_size: Decimal) -> Decimal | None:
    """The size floored to the step, or None when that falls below the market's minimum."""
    shares = floor_size(size)
    return shares if shares > 0 and shares >= min_size else None


def on_grid(price: Decimal, tick: Decimal) -> bool:
    return price % tick == 0 and tick <= price <= ONE - tick


def bps(value: float | Decimal) -> Decimal:
    """Basis points of one dollar (the payout of a share) as a price difference: 100 bps = 0.01."""
    return Decimal(str(value)) / BPS


def taker_fee_per_share(price: Decimal, rate: Decimal, exponent: Decimal) -> Decimal:
    """The CLOB V2 platform fee per share bought at `price`: rate x (p(1-p))^exponent (protocol §5.5)."""
    if rate <= 0:
        return Decimal(0)
    return rate * (price * (ONE - price)) ** exponent
