"""Trades: the record of one maker fill, its ledger transfers (so a FAILED trade can be undone), taker fees."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from paperexchange.engine import BUY, Fill, Order
from paperexchange.ledger import COLLATERAL, Ledger
from paperexchange.markets import Market
from paperexchange.units import AMOUNT_SCALE, PRICE_SCALE, notional

# Taker fees are paid to this paper address so that pUSD is conserved across the ledger.
FEE_COLLECTOR = "0x000000000000000000000000000000000000fee5"
_FEE_STEP = AMOUNT_SCALE // 100_000  # fees are rounded down to 5 decimals

Transfer = tuple[str, str, int]  # (address, asset, signed base units)


@dataclass(slots=True, eq=False)
class Trade:
    id: str
    market: Market
    taker: Order
    maker: Order
    size: int
    yes_price: int
    fee: int
    match_time: int
    transaction_hash: str
    status: str = "MATCHED"
    last_update: int = 0
    fail: bool = False  # injected: walks MATCHED -> RETRYING -> FAILED instead of MINED -> CONFIRMED
    transfers: list[Transfer] = field(default_factory=list)

    @property
    def taker_price(self) -> int:
        return self.taker.own_price(self.yes_price)

    @property
    def maker_price(self) -> int:
        return self.maker.own_price(self.yes_price)

    def collateral_of(self, order: Order) -> int:
        """pUSD the order's leg paid (BUY) or received (SELL), before fees."""
        yes_amount = notional(self.size, self.yes_price)
        return yes_amount if order.is_yes else self.size - yes_amount


def taker_fee(market: Market, size: int, yes_price: int) -> int:
    """fee = shares x rate x (p(1-p))^exponent in pUSD, floored to 5 decimals; symmetric in p and 1-p."""
    if market.fee_rate == 0:
        return 0
    p = Decimal(yes_price) / PRICE_SCALE
    fee = Decimal(size) * market.fee_rate * (p * (1 - p)) ** market.fee_exponent
    units = int(fee.to_integral_value(rounding=ROUND_FLOOR))
    return units - units % _FEE_STEP


def fee_rate_bps(market: Market) -> str:
    return str(int(market.fee_rate * 10_000))


def _leg(order: Order, size: int, amount: int) -> list[Transfer]:
    if order.side == BUY:
        return [(order.maker, COLLATERAL, -amount), (order.maker, order.token_id, size)]
    return [(order.maker, order.token_id, -size), (order.maker, COLLATERAL, amount)]


def fill_transfers(fill: Fill, fee: int) -> list[Transfer]:
    """Both legs at their own token's price: a normal match, a mint (BUY+BUY) or a merge (SELL+SELL).

    The YES leg pays or receives floor(size x p); the NO leg the exact complement, so pUSD is conserved
    and a mint or merge moves exactly one pUSD per share pair.
    """
    yes_amount = notional(fill.size, fill.yes_price)
    no_amount = fill.size - yes_amount
    transfers: list[Transfer] = []
    for order in (fill.maker, fill.taker):
        transfers += _leg(order, fill.size, yes_amount if order.is_yes else no_amount)
    if fee:
        transfers += [(fill.taker.maker, COLLATERAL, -fee), (FEE_COLLECTOR, COLLATERAL, fee)]
    return transfers


def apply_transfers(ledger: Ledger, transfers: list[Transfer], sign: int = 1) -> None:
    for address, asset, amount in transfers:
        ledger.credit(address, asset, sign * amount)


def new_transaction_hash() -> str:
    return "0x" + os.urandom(32).hex()
