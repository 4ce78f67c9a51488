"""Trades as the venue reports them: one taker order's match against every maker it reached is ONE trade
(one id, `size` = the taker's whole fill, each maker in `maker_orders[]` with its own matched amount and
price; ../shared/fixtures python-ws/user_trade1.json has 6 makers, YES and NO mixed, in one trade).

Settlement follows the chain (paperexchange/core/settlement.py): what a wallet gives (pUSD for a BUY, tokens for
a SELL, the taker fee) leaves its balance at the match; what it gets arrives when the trade is MINED; a
FAILED trade returns what was given, and nothing arrives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from paperexchange.core.engine import BUY, Fill, Order
from paperexchange.core.ledger import COLLATERAL, Ledger
from paperexchange.core.markets import Market
from paperexchange.core.units import AMOUNT_SCALE, PRICE_SCALE, notional

# Taker fees are paid to this paper address so that pUSD is conserved across the ledger.
FEE_COLLECTOR = "0x000000000000000000000000000000000000fee5"
_FEE_STEP = AMOUNT_SCALE // 100_000  # fees are rounded down to 5 decimals

Transfer = tuple[str, str, int]  # (address, asset, signed base units)


@dataclass(slots=True, eq=False)
class MakerPart:
    """One maker order's share of a trade: `size` shares at the maker's own price."""

    order: Order
    size: int
    yes_price: int
    fee: int  # the taker fee on this part

    @property
    def price(self) -> int:
        return self.order.own_price(self.yes_price)

    def collateral_of(self, order: Order) -> int:
        """pUSD `order` (the maker, or the taker) paid (BUY) or received (SELL) on this part, before fees.

        The YES leg pays or receives floor(size x p); the NO leg the exact complement, so pUSD is conserved
        and a mint or merge moves exactly one pUSD per share pair."""
        yes_amount = notional(self.size, self.yes_price)
        return yes_amount if order.is_yes else self.size - yes_amount


@dataclass(slots=True, eq=False)
class Trade:
    id: str
    market: Market
    taker: Order
    parts: list[MakerPart]
    match_time: int
    transaction_hash: str
    status: str = "MATCHED"
    last_update: int = 0
    fail: bool = False  # injected: walks MATCHED -> RETRYING -> FAILED instead of MINED -> CONFIRMED
    given: list[Transfer] = field(default_factory=list)  # debits applied at the match
    received: list[Transfer] = field(default_factory=list)  # credits applied when MINED

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def fee(self) -> int:
        return sum(part.fee for part in self.parts)

    @property
    def yes_price(self) -> int:
        """The YES price of the last part (the market's last trade price after this trade)."""
        return self.parts[-1].yes_price

    @property
    def makers(self) -> list[Order]:
        return [part.order for part in self.parts]

    def taker_collateral(self) -> int:
        return sum(part.collateral_of(self.taker) for part in self.parts)

    def taker_price(self) -> Decimal:
        """The taker's average price in its own token, to 4 decimals (exact when every part is one price)."""
        paid = sum(part.size * self.taker.own_price(part.yes_price) for part in self.parts)
        average = Decimal(paid) / self.size / PRICE_SCALE
        return average.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)

    def owners(self) -> list[str]:
        """API keys with a side in this trade, the taker's first, each once."""
        return list(dict.fromkeys([self.taker.owner, *(order.owner for order in self.makers)]))


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


def part_transfers(fill: Fill, fee: int) -> list[Transfer]:
    """Both legs of one maker fill at their own token's price: a normal match, a mint (BUY+BUY) or a merge
    (SELL+SELL); plus the taker fee."""
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
