"""Bench: the strategy `polydesk bench` measures tick-to-order latency with. Not for trading.

Enabled only by naming it in POLYDESK_STRATEGIES. On a book delta that puts size on the bid at
`bench_trigger_price` of a market's first (YES) token (the paper exchange's bench generator places such a
"trigger" bid once in N book changes), it emits one post-only GTC BUY of that token at
`bench_order_price` (far below the book, so it rests and never fills) of the market's minimum size.
Each trigger gets its own signal key (the delta's message id), so risk's dedup never drops one. Every
other event yields nothing, like a strategy that acts on a fraction of the ticks it watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.strategy.intents import Intent, order
from services.strategy.state import WorldState
from shared.messages import BookDelta, Message, Side

NAME = "bench"


@dataclass(frozen=True)
class BenchParams:
    trigger_price: Decimal = Decimal("0.02")
    order_price: Decimal = Decimal("0.01")


class Bench:
    name = NAME

    def __init__(self, params: BenchParams) -> None:
        self.params = params

    def relevant(self, event: Message) -> bool:
        return isinstance(event, BookDelta)

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        if not isinstance(event, BookDelta):
            return []
        trigger = self.params.trigger_price
        # Most deltas are no trigger: that is seen in the changes alone, before the market is looked up.
        bids = [c for c in event.changes if c.side is Side.BUY and c.price == trigger and c.size > 0]
        market = state.markets.get(event.market) if bids else None
        if market is None:
            return []
        tokens = market.token_ids
        if not tokens or not any(c.token_id == tokens[0] for c in bids):
            return []
        token = tokens[0]
        return [
            order(
                event,
                strategy=NAME,
                signal_key=f"bench:{event.envelope.message_id}",
                leg="bid",
                market=market.condition_id,
                token_id=token,
                side=Side.BUY,
                price=self.params.order_price,
                size=max(market.min_size, Decimal(5)),
                post_only=True,
                reason="bench_trigger",
            )
        ]
