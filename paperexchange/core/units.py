"""Fixed-point units: prices in 1e-4 steps, share and pUSD amounts in 1e-6 base units, and wire strings."""

from __future__ import annotations

from decimal import Decimal

PRICE_SCALE = 10_000  # every supported tick (0.1 ... 0.0001) is a whole number of 1e-4 steps
AMOUNT_SCALE = 1_000_000  # pUSD and outcome tokens have 6 decimals
ONE = PRICE_SCALE


def decimal_str(value: Decimal) -> str:
    """Plain decimal text as the venue sends it: leading zero, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def price_str(units: int) -> str:
    return decimal_str(Decimal(units) / PRICE_SCALE)


def price_str_fixed(units: int, places: int) -> str:
    """A price with a fixed number of decimals, as in `last_trade_price` of book snapshots (`"0.500"`)."""
    return f"{Decimal(units) / PRICE_SCALE:.{places}f}"


def amount_str(base_units: int) -> str:
    return decimal_str(Decimal(base_units) / AMOUNT_SCALE)


def parse_price(text: str) -> int:
    """Price text -> 1e-4 units; raises ValueError when it is not a whole number of 1e-4 steps."""
    scaled = Decimal(text) * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {text} is finer than 0.0001")
    return int(scaled)


def parse_amount(text: str) -> int:
    """Decimal text (shares or pUSD) -> 1e-6 base units, truncating anything finer."""
    return int(Decimal(text) * AMOUNT_SCALE)


def notional(shares: int, price_units: int) -> int:
    """pUSD base units paid for `shares` base units at `price_units`, rounded down."""
    return shares * price_units // PRICE_SCALE


def notional_up(shares: int, price_units: int) -> int:
    """Same as notional() but rounded up: what must be reserved so a fill can never overdraw."""
    return -(-shares * price_units // PRICE_SCALE)


def tick_places(tick_units: int) -> int:
    """Decimal places of a tick: 0.1 -> 1, 0.01 -> 2, 0.0025 -> 4."""
    exponent = Decimal(tick_units).scaleb(-4).normalize().as_tuple().exponent
    assert isinstance(exponent, int), "an integer tick is a finite Decimal, whose exponent is an int"
    return max(1, -exponent)
