"""Matching: one price-time-priority book per market in YES price space, the NO book its mirror.

A BUY of YES at p is a bid at p; a BUY of NO at q is an ask at 1-q (matching a YES bid is a *mint*);
a SELL of NO at q is a bid at 1-q (matching a YES ask... or a SELL YES: a *merge*). Makers set the
price, so any improvement goes to the taker. Pure bookkeeping: no balances, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from paperexchange.core.units import ONE, PRICE_SCALE

BUY, SELL = "BUY", "SELL"
LOT = 10_000  # 0.01 share: the granularity a pUSD-sized (market BUY) order buys in


@dataclass(slots=True, eq=False)
class Order:
    """An order as the venue keeps it. Sizes in share base units, prices in 1e-4 units of its own token."""

    id: str
    condition_id: str
    token_id: str
    is_yes: bool
    side: str
    price: int
    original_size: int
    owner: str
    maker: str
    signer: str
    order_type: str
    created_at: int
    expiration: int = 0
    post_only: bool = False
    spend_limit: int | None = None  # FOK/FAK BUY: pUSD to spend instead of a share count
    matched: int = 0
    status: str = "LIVE"
    seq: int = 0
    reserved: int = 0
    trade_ids: list[str] = field(default_factory=list)
    internal: bool = False  # placed by the paper exchange itself (seeded liquidity), not signed

    @property
    def remaining(self) -> int:
        return self.original_size - self.matched

    @property
    def book_side(self) -> str:
        """BUY (a bid) or SELL (an ask) in YES price space."""
        if self.is_yes:
            return self.side
        return SELL if self.side == BUY else BUY

    @property
    def book_price(self) -> int:
        return self.price if self.is_yes else ONE - self.price

    def own_price(self, yes_price: int) -> int:
        """The price this order trades at when the YES-space trade price is yes_price."""
        return yes_price if self.is_yes else ONE - yes_price


@dataclass(slots=True)
class Fill:
    maker: Order
    taker: Order
    size: int
    yes_price: int


class Book:
    """Resting orders of one market; levels keyed by YES price, FIFO within a level."""

    def __init__(self) -> None:
        self._levels: dict[str, dict[int, deque[Order]]] = {BUY: {}, SELL: {}}
        self._prices: dict[str, list[int]] = {BUY: [], SELL: []}  # ascending
        self._sizes: dict[str, dict[int, int]] = {BUY: {}, SELL: {}}

    def add(self, order: Order) -> None:
        side, price = order.book_side, order.book_price
        level = self._levels[side].get(price)
        if level is None:
            level = self._levels[side][price] = deque()
            insort(self._prices[side], price)
            self._sizes[side][price] = 0
        level.append(order)
        self._sizes[side][price] += order.remaining

    def remove(self, order: Order, size_before: int | None = None) -> None:
        """Take an order off the book (cancel, expiry, or after its last fill)."""
        side, price = order.book_side, order.book_price
        level = self._levels[side].get(price)
        if level is None or order not in level:
            return
        level.remove(order)
        self._sizes[side][price] -= order.remaining if size_before is None else size_before
        if not level:
            self._drop_level(side, price)

    def _drop_level(self, side: str, price: int) -> None:
        del self._levels[side][price]
        del self._sizes[side][price]
        prices = self._prices[side]
        del prices[bisect_left(prices, price)]

    def reduce(self, order: Order, size: int) -> None:
        """Account for `size` of a resting order having traded (call before order.matched moves)."""
        side, price = order.book_side, order.book_price
        self._sizes[side][price] -= size
        if order.remaining - size == 0:
            level = self._levels[side][price]
            level.remove(order)
            if not level:
                self._drop_level(side, price)

    def shrink(self, order: Order, size: int) -> None:
        """Take `size` off a resting order without a trade (an external book's level got smaller)."""
        side, price = order.book_side, order.book_price
        self._sizes[side][price] -= size
        order.original_size -= size
        if order.remaining == 0:
            level = self._levels[side][price]
            level.remove(order)
            if not level:
                self._drop_level(side, price)

    def level_orders(self, side: str, price: int) -> list[Order]:
        """The orders resting at one level, in time priority."""
        return list(self._levels[side].get(price, ()))

    def best(self, side: str) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BUY else prices[0]

    def level_size(self, side: str, price: int) -> int:
        return self._sizes[side].get(price, 0)

    def levels(self, side: str) -> list[tuple[int, int]]:
        """(YES price, total size) ascending by price."""
        sizes = self._sizes[side]
        return [(price, sizes[price]) for price in self._prices[side]]

    def orders(self) -> Iterator[Order]:
        for side in (BUY, SELL):
            for level in self._levels[side].values():
                yield from level

    def crossing(self, taker: Order) -> Iterator[Order]:
        """Resting orders the taker could trade with, best price first, then time priority."""
        if taker.book_side == BUY:
            prices, limit = self._prices[SELL], taker.book_price
            for price in list(prices):
                if price > limit:
                    return
                yield from list(self._levels[SELL].get(price, ()))
        else:
            prices, limit = self._prices[BUY], taker.book_price
            for price in reversed(list(prices)):
                if price < limit:
                    return
                yield from list(self._levels[BUY].get(price, ()))

    def crosses(self, taker: Order) -> bool:
        if taker.book_side == BUY:
            best = self.best(SELL)
            return best is not None and best <= taker.book_price
        best = self.best(BUY)
        return best is not None and best >= taker.book_price


def fill_size(taker: Order, maker: Order, spent: int) -> int:
    """Shares the taker takes from this maker: by share count, or by pUSD budget for a market BUY."""
    available = maker.remaining
    if taker.spend_limit is None:
        return min(available, taker.remaining)
    own_price = taker.own_price(maker.book_price)
    affordable = (taker.spend_limit - spent) * PRICE_SCALE // own_price
    return min(available, affordable - affordable % LOT)


def plan_fills(book: Book, taker: Order) -> list[Fill]:
    """The fills a taker would get now, without changing anything (FOK check, and the match itself)."""
    fills: list[Fill] = []
    spent = 0
    taken = 0
    for maker in book.crossing(taker):
        if taker.spend_limit is None and taken >= taker.remaining:
            break
        size = (
            fill_size(taker, maker, spent)
            if taker.spend_limit is not None
            else min(maker.remaining, taker.remaining - taken)
        )
        if size <= 0:
            break
        fills.append(Fill(maker=maker, taker=taker, size=size, yes_price=maker.book_price))
        taken += size
        spent += size * taker.own_price(maker.book_price) // PRICE_SCALE
    return fills


def fully_filled(taker: Order, fills: list[Fill]) -> bool:
    """FOK test: every share filled, or for a pUSD-sized BUY, less than one lot's worth left unspent."""
    if taker.spend_limit is None:
        return sum(fill.size for fill in fills) >= taker.remaining
    spent = sum(fill.size * taker.own_price(fill.yes_price) // PRICE_SCALE for fill in fills)
    return taker.spend_limit - spent < LOT * taker.price // PRICE_SCALE or taker.spend_limit == spent
