"""Sizing functions: how many shares to trade, each a pure function of its inputs (no state, no I/O).

Every function returns shares (Decimal, unrounded, >= 0); callers round with pricing.tradable_size.
Amounts in USD are what the order costs at `price` (shares x price).
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


def fixed(usd: Decimal, price: Decimal) -> Decimal:
    """Shares worth `usd` at `price`."""
    if usd <= 0 or price <= 0:
        return ZERO
    return usd / price


def proportional(
    reference_size: Decimal, ratio: Decimal, price: Decimal, *, min_usd: Decimal, max_usd: Decimal
) -> Decimal:
    """`ratio` x the reference size (a leader's trade), its cost held within [min_usd, max_usd]."""
    if reference_size <= 0 or ratio <= 0 or price <= 0:
        return ZERO
    usd = min(max(reference_size * ratio * price, min_usd), max_usd)
    return usd / price


def kelly_fraction(probability: Decimal, price: Decimal) -> Decimal:
    """The full-Kelly share of a bankroll for buying a binary share at `price` that pays 1 with `probability`.

    Winning returns (1 - price) per price staked, so f* = (p - price) / (1 - price); <= 0 means no bet.
    """
    if not ZERO < price < 1:
        return ZERO
    return max(ZERO, (probability - price) / (1 - price))


def kelly(
    probability: Decimal, price: Decimal, *, bankroll_usd: Decimal, fraction: Decimal, max_usd: Decimal
) -> Decimal:
    """Fractional Kelly: `fraction` x f* of the bankroll, capped at `max_usd`, in shares at `price`."""
    stake = min(bankroll_usd * fraction * kelly_fraction(probability, price), max_usd)
    return fixed(stake, price)


def volatility_scaled(
    base_usd: Decimal,
    price: Decimal,
    *,
    volatility: Decimal | None,
    target_volatility: Decimal,
    max_usd: Decimal,
) -> Decimal:
    """`base_usd` scaled by target / observed volatility (smaller in a jumpy market), capped at `max_usd`.

    With no volatility estimate yet (or zero), the base amount is used unscaled.
    """
    usd = base_usd if not volatility or volatility <= 0 else base_usd * target_volatility / volatility
    return fixed(min(usd, max_usd), price)
