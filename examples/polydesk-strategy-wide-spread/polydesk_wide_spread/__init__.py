"""wide_spread: an example of an own polydesk strategy (docs/strategies.md), installed as a package.

When a token's book is valid and its spread is at least `min_spread_ticks` ticks wide, it bids one tick
above the best bid, post-only (it rests as a maker, never takes), for about `size_usd`, unless it already
has a bid resting on that token or holds `max_shares` of it. A pure function of (state, event): no I/O, no
clock, nothing kept between calls but what the state holds; `polydesk` runs it live and in a backtest alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.strategy.intents import Ignored, Intent, order
from services.strategy.pricing import tradable_size
from services.strategy.state import WorldState
from shared.messages import BookDelta, BookSnapshot, Message, Side

NAME = "wide_spread"


@dataclass(frozen=True)
class Params:
    min_spread_ticks: int = 3
    size_usd: Decimal = Decimal(5)
    max_shares: Decimal = Decimal(50)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Params:
        """From POLYDESK_STRATEGY_PARAMS' entry; an unknown or bad parameter raises (polydesk stops at start
        naming this strategy)."""
        unknown = set(raw) - {"min_spread_ticks", "size_usd", "max_shares"}
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}")
        params = cls(
            min_spread_ticks=int(raw.get("min_spread_ticks", cls.min_spread_ticks)),
            size_usd=Decimal(str(raw.get("size_usd", cls.size_usd))),
            max_shares=Decimal(str(raw.get("max_shares", cls.max_shares))),
        )
        if params.min_spread_ticks < 2 or params.size_usd <= 0 or params.max_shares <= 0:
            raise ValueError("min_spread_ticks must be >= 2, size_usd and max_shares > 0")
        return params


class WideSpread:
    name = NAME

    def __init__(self, params: Params) -> None:
        self.params = params

    def relevant(self, event: Message) -> bool:
        return isinstance(event, BookSnapshot | BookDelta)

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        if not isinstance(event, BookSnapshot | BookDelta):
            return []
        market = state.markets.get(event.market)
        if market is None or not market.tradable:
            return Ignored("market not tradable")
        intents: list[Intent] = []
        tokens = (
            [event.token_id]
            if isinstance(event, BookSnapshot)
            else sorted({c.token_id for c in event.changes})
        )
        for token in tokens:
            book = market.books.get(token)
            bid, ask = (book.best_bid(), book.best_ask()) if book is not None else (None, None)
            if bid is None or ask is None:
                continue
            tick = market.tick_size
            if ask.price - bid.price < self.params.min_spread_ticks * tick:
                continue
            if state.portfolio.open_size(token, Side.BUY) > 0:
                continue  # one resting bid per token at a time
            if state.portfolio.position(token) >= self.params.max_shares:
                continue
            price = bid.price + tick
            size = tradable_size(self.params.size_usd / price, market.min_size)
            if size is None:
                continue
            # Memory lives in the state: quote each price once (until our order shows on the fills stream,
            # every book change would otherwise ask again for the same bid).
            quoted = state.strategy_memory(NAME)
            if quoted.get(token) == price:
                continue
            quoted[token] = price
            intents.append(
                order(
                    event,
                    strategy=NAME,
                    signal_key=f"{NAME}:{token}:{price}",
                    leg="bid",
                    market=market.condition_id,
                    token_id=token,
                    side=Side.BUY,
                    price=price,
                    size=size,
                    post_only=True,
                    reason=f"wide_spread: {bid.price}/{ask.price}, bid {price}",
                )
            )
        return intents or Ignored("no spread wide enough")


def build_strategy(params: dict[str, Any]) -> WideSpread:
    """The factory polydesk calls (the entry point in pyproject.toml) with this strategy's parameters."""
    return WideSpread(Params.parse(params))
