"""Copy trading: follow listed wallets' trades, proportionally sized, guarded against a moved book.

A leader's BUY is copied as a FAK buy at the best ask; a SELL only against own inventory (never short),
at the best bid. The copy is skipped when the touch has moved more than the guard past the leader's price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.strategy import sizing
from services.strategy.intents import Intent, order
from services.strategy.pricing import bps, taker_price, tradable_size
from services.strategy.state import WorldState
from shared.messages import Message, OrderType, Side, TradeSeen

NAME = "copy"


@dataclass(frozen=True)
class CopyParams:
    wallets: frozenset[str]  # lower-case addresses
    size_ratio: Decimal
    min_size_usd: Decimal
    max_size_usd: Decimal
    price_guard_bps: Decimal


class CopyTrading:
    name = NAME

    def __init__(self, params: CopyParams) -> None:
        self.params = params

    def relevant(self, event: Message) -> bool:
        return isinstance(event, TradeSeen) and event.wallet.lower() in self.params.wallets

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        if not self.relevant(event):
            return []
        assert isinstance(event, TradeSeen)
        market = state.markets.get(event.market)
        if market is None or not market.tradable:
            return []
        book = market.books.get(event.token_id)
        touch = None if book is None else (book.best_ask() if event.side is Side.BUY else book.best_bid())
        if touch is None or self._moved(event, touch.price):
            return []
        size = sizing.proportional(
            event.size,
            self.params.size_ratio,
            touch.price,
            min_usd=self.params.min_size_usd,
            max_usd=self.params.max_size_usd,
        )
        if event.side is Side.SELL:
            # Only settled shares can be sold (a MATCHED buy is not on chain yet and may still fail).
            free = state.portfolio.settled(event.token_id) - state.portfolio.open_size(
                event.token_id, Side.SELL
            )
            size = min(size, free)
        shares = tradable_size(size, market.min_size)
        if shares is None:
            return []
        verb = "bought" if event.side is Side.BUY else "sold"
        return [
            order(
                event,
                strategy=NAME,
                signal_key=f"copy:{event.trade_key}",
                leg="0",
                market=event.market,
                token_id=event.token_id,
                side=event.side,
                price=taker_price(touch.price, market.tick_size, event.side),
                size=shares,
                order_type=OrderType.FAK,
                reason=f"copy_{event.side.value.lower()}: {event.wallet} {verb} {event.size} @ {event.price}",
            )
        ]

    def _moved(self, trade: TradeSeen, touch: Decimal) -> bool:
        guard = bps(self.params.price_guard_bps)
        if trade.side is Side.BUY:
            return touch > trade.price + guard
        return touch < trade.price - guard
