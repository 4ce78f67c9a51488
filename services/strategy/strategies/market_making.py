"""Market making: two-sided post-only quotes on a market's first (YES) token around mid or microprice.

The reference is skewed against net inventory (YES held minus NO held) so fills pull the quotes back toward
flat. The ask is a SELL of YES when inventory covers it, else the mirror BUY of NO at 1 - ask (protocol §5.3).
A new quote generation cancels the previous one first; quotes change at most every requote interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.strategy.intents import Intent, cancel, order
from services.strategy.pricing import ONE, bps, maker_price, tradable_size
from services.strategy.state import Market, WorldState, event_market
from shared.messages import (
    BookDelta,
    BookSnapshot,
    MarketResolved,
    MarketUpdated,
    Message,
    Side,
    TickSizeChanged,
)

NAME = "market_making"
REFERENCES = ("mid", "microprice")


@dataclass(frozen=True)
class MMParams:
    half_spread_bps: Decimal
    requote_interval_secs: float
    quote_size_usd: Decimal
    inventory_skew_bps_per_share: Decimal
    reference: str = "mid"
    markets: frozenset[str] = frozenset()  # empty: every market of the shard


@dataclass(frozen=True)
class Quote:
    generation: str
    bid: Decimal
    ask: Decimal
    at: float


class MarketMaking:
    name = NAME

    def __init__(self, params: MMParams) -> None:
        if params.reference not in REFERENCES:
            raise ValueError(f"mm reference must be one of {REFERENCES}, not {params.reference!r}")
        self.params = params

    def relevant(self, event: Message) -> bool:
        market = event_market(event)
        if market is None or (self.params.markets and market not in self.params.markets):
            return False
        return isinstance(event, BookSnapshot | BookDelta | MarketResolved | MarketUpdated | TickSizeChanged)

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        if not self.relevant(event):
            return []
        market = state.markets.get(event_market(event) or "")
        if market is None or not market.token_ids:
            return []
        memory = state.strategy_memory(NAME)
        token = market.token_ids[0]
        previous = memory.get(token)
        assert previous is None or isinstance(previous, Quote)
        target = self._target(state, market, token)
        if target is None:
            if previous is None:
                return []
            del memory[token]
            return [
                self._cancel(event, market, token, previous, "mm_pull: no two-sided book or market closed")
            ]
        if previous is not None and (
            (previous.bid, previous.ask) == target or now - previous.at < self.params.requote_interval_secs
        ):
            return []
        quote = Quote(generation=event.envelope.message_id, bid=target[0], ask=target[1], at=now)
        legs = self._legs(event, state, market, token, quote, previous)
        if not legs:
            return []
        memory[token] = quote
        pull = [self._cancel(event, market, token, previous, "mm_requote: replaced")] if previous else []
        return pull + legs

    def _target(self, state: WorldState, market: Market, token: str) -> tuple[Decimal, Decimal] | None:
        book = market.books.get(token)
        best_bid = None if book is None else book.best_bid()
        best_ask = None if book is None else book.best_ask()
        if best_bid is None or best_ask is None or not market.tradable:
            return None
        if self.params.reference == "microprice" and best_bid.size + best_ask.size > 0:
            reference = (best_bid.price * best_ask.size + best_ask.price * best_bid.size) / (
                best_bid.size + best_ask.size
            )
        else:
            reference = (best_bid.price + best_ask.price) / 2
        other = market.complement(token)
        net = state.portfolio.position(token) - (state.portfolio.position(other) if other else Decimal(0))
        fair = reference - net * bps(self.params.inventory_skew_bps_per_share)
        half = bps(self.params.half_spread_bps)
        tick = market.tick_size
        # Post-only: never at or through the other side of the book.
        bid = min(maker_price(fair - half, tick, Side.BUY), best_ask.price - tick)
        ask = max(maker_price(fair + half, tick, Side.SELL), best_bid.price + tick)
        if bid < tick or ask > ONE - tick or bid >= ask:
            return None
        return bid, ask

    def _legs(
        self,
        event: Message,
        state: WorldState,
        market: Market,
        token: str,
        quote: Quote,
        previous: Quote | None,
    ) -> list[Intent]:
        key = f"mm:{token}:{quote.generation}"
        replaces = None if previous is None else f"mm:{token}:{previous.generation}"
        bid_size = tradable_size(self.params.quote_size_usd / quote.bid, market.min_size)
        ask_size = tradable_size(self.params.quote_size_usd / quote.ask, market.min_size)
        other = market.complement(token)
        if bid_size is None or ask_size is None:
            return []
        sides = [("bid", token, Side.BUY, quote.bid, bid_size)]
        if state.portfolio.settled(token) >= ask_size:  # provisional shares cannot be sold yet
            sides.append(("ask", token, Side.SELL, quote.ask, ask_size))
        elif other is not None:
            no_price = ONE - quote.ask
            no_size = tradable_size(self.params.quote_size_usd / no_price, market.min_size)
            if no_size is None:
                return []
            sides.append(("ask", other, Side.BUY, no_price, no_size))
        else:
            return []
        return [
            order(
                event,
                strategy=NAME,
                signal_key=key,
                leg=leg,
                market=market.condition_id,
                token_id=token_id,
                side=side,
                price=price,
                size=size,
                post_only=True,
                replaces_signal_key=replaces,
                reason=f"mm_quote: {leg} {quote.bid}/{quote.ask}",
            )
            for leg, token_id, side, price, size in sides
        ]

    def _cancel(self, event: Message, market: Market, token: str, previous: Quote, reason: str) -> Intent:
        quoted = f"mm:{token}:{previous.generation}"
        return cancel(
            event,
            strategy=NAME,
            signal_key=f"{quoted}:cancel",
            market=market.condition_id,
            reason=reason,
            of_signal_key=quoted,
        )
