"""Balance and allowance checks against the funder, and the reservations resting orders hold."""

from __future__ import annotations

from decimal import Decimal

from paperexchange.core import config, errors
from paperexchange.core.engine import BUY, Order
from paperexchange.core.errors import VenueError
from paperexchange.core.ledger import COLLATERAL, Ledger
from paperexchange.core.markets import Market
from paperexchange.core.units import notional_up


def reservation(order: Order) -> tuple[str, int]:
    """(asset, amount) a resting order ties up: pUSD for a BUY's remaining notional, tokens for a SELL."""
    if order.side == BUY:
        return COLLATERAL, notional_up(order.remaining, order.price)
    return order.token_id, order.remaining


def set_reservation(ledger: Ledger, order: Order, resting: bool) -> None:
    """Move the order's reservation to what it should be now (zero once it no longer rests)."""
    asset, amount = reservation(order)
    target = amount if resting and order.remaining > 0 else 0
    if target != order.reserved:
        ledger.reserve(order.maker, asset, target - order.reserved)
        order.reserved = target


def max_taker_fee(market: Market, shares: int) -> int:
    """Upper bound of the taker fee on `shares` (p(1-p) is at most 1/4)."""
    if market.fee_rate == 0:
        return 0
    return int(Decimal(shares) * market.fee_rate * Decimal("0.25") ** market.fee_exponent) + 1


def check_funds(
    ledger: Ledger, order: Order, market: Market, maker_amount: int, exchange: str, crosses: bool
) -> None:
    """Refuse with the venue's message unless the funder can cover the order on top of its resting ones."""
    if order.internal:
        return
    if order.side == BUY:
        needed = maker_amount + (max_taker_fee(market, order.original_size) if crosses else 0)
        available = ledger.available(order.maker, COLLATERAL)
        if available < needed:
            raise VenueError(errors.NOT_ENOUGH_BALANCE.format(balance=available, amount=needed))
        allowance = ledger.allowance(order.maker, exchange)
        if allowance < needed:
            raise VenueError(errors.NOT_ENOUGH_ALLOWANCE.format(allowance=allowance, amount=needed))
        return
    available = ledger.available(order.maker, order.token_id)
    if available < order.original_size:
        raise VenueError(errors.NOT_ENOUGH_BALANCE.format(balance=available, amount=order.original_size))
    operator_ok = ledger.approved_for_all(order.maker, exchange)
    if not operator_ok:
        raise VenueError(errors.NOT_ENOUGH_ALLOWANCE.format(allowance=0, amount=order.original_size))


def consume_allowances(ledger: Ledger, transfers: list[tuple[str, str, int]], spender: str) -> None:
    """pUSD leaving a wallet in a fill goes through the exchange's transferFrom, which spends allowance."""
    for address, asset, amount in transfers:
        if asset == COLLATERAL and amount < 0:
            ledger.spend_allowance(address, spender, -amount)


def spenders() -> list[str]:
    """The spenders GET /balance-allowance reports allowances for."""
    return [config.STANDARD_EXCHANGE, config.NEG_RISK_EXCHANGE, config.NEG_RISK_ADAPTER]
