"""Arbitrage: buy a full set of outcomes for less than it surely pays.

Binary: YES ask + NO ask + taker fees < 1 - edge. Neg-risk event of n markets (exactly one YES wins): the n
YES asks + fees < 1 - edge, or the n NO asks + fees < (n - 1) - edge. Sized by the depth at the best ask of
every leg (and a USD cap); the legs go out as one BasketIntent of FOK buys at the asks (all or none: risk
judges it as one, the executor completes or unwinds a partial fill). A neg-risk basket is taken to be every
discovered market of the event, so ingest must discover whole events into one shard (docs/strategy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.strategy.intents import Intent, basket, fingerprint
from services.strategy.pricing import bps, taker_fee_per_share, taker_price, tradable_size
from services.strategy.state import Market, WorldState, event_market
from shared.messages import BasketLeg, BookDelta, BookSnapshot, Message, OrderType, PriceLevel, Side

NAME = "arbitrage"


@dataclass(frozen=True)
class ArbParams:
    min_edge_bps: Decimal
    max_size_usd: Decimal


@dataclass(frozen=True)
class Leg:
    market: Market
    token_id: str
    ask: PriceLevel

    def cost_per_share(self) -> Decimal:
        info = self.market.info
        fee = (
            Decimal(0)
            if info is None
            else taker_fee_per_share(self.ask.price, info.fee_rate, info.fee_exponent)
        )
        return self.ask.price + fee


class Arbitrage:
    name = NAME

    def __init__(self, params: ArbParams) -> None:
        self.params = params

    def relevant(self, event: Message) -> bool:
        return isinstance(event, BookSnapshot | BookDelta)

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        if not self.relevant(event):
            return []
        market = state.markets.get(event_market(event) or "")
        if market is None:
            return []
        intents: list[Intent] = []
        if len(market.token_ids) == 2:
            intents += self._basket(
                state, event, market.condition_id, self._binary_legs(market), Decimal(1), "binary"
            )
        group_id = market.info.neg_risk_market_id if market.info is not None and market.neg_risk else None
        if group_id:
            members = [state.markets[c] for c in sorted(state.neg_risk_groups.get(group_id, ()))]
            if len(members) >= 2:
                for side_index, label, payout in (
                    (0, "neg_risk_yes", Decimal(1)),
                    (1, "neg_risk_no", Decimal(len(members) - 1)),
                ):
                    legs = self._group_legs(members, side_index)
                    intents += self._basket(state, event, f"{group_id}:{label}", legs, payout, label)
        return intents

    def _binary_legs(self, market: Market) -> list[Leg] | None:
        # YES + NO asks below 1 cannot exist on one mirrored book: seen between a resync of one token and
        # of the other, it is an artefact. Trade it only when both books come from the same venue frame.
        books = [market.books.get(token_id) for token_id in market.token_ids]
        if any(book is None for book in books) or len({book.as_of_ns for book in books if book}) != 1:
            return None
        return _legs([(market, token_id) for token_id in market.token_ids])

    def _group_legs(self, members: list[Market], side_index: int) -> list[Leg] | None:
        picks = []
        for member in members:
            tokens = member.token_ids
            if len(tokens) != 2:
                return None
            picks.append((member, tokens[side_index]))
        return _legs(picks)

    def _basket(
        self,
        state: WorldState,
        event: Message,
        basket_id: str,
        legs: list[Leg] | None,
        payout: Decimal,
        kind: str,
    ) -> list[Intent]:
        if not legs:
            return []
        cost = sum((leg.cost_per_share() for leg in legs), Decimal(0))
        edge = payout - cost
        memory = state.strategy_memory(NAME)
        if edge < bps(self.params.min_edge_bps) or edge <= 0:
            memory.pop(basket_id, None)  # gone: the same prices later are a new opportunity
            return []
        depth = min(leg.ask.size for leg in legs)
        cap = self.params.max_size_usd / sum((leg.ask.price for leg in legs), Decimal(0))
        shares = tradable_size(min(depth, cap), max(leg.market.min_size for leg in legs))
        if shares is None:
            return []
        print_ = fingerprint(*[f"{leg.token_id}:{leg.ask.price}:{leg.ask.size}" for leg in legs])
        if memory.get(basket_id) == print_:
            return []  # the same opportunity, already acted on
        memory[basket_id] = print_
        key = f"arb:{basket_id}:{print_}"
        reason = f"arb_{kind}: cost {cost:.6f} vs payout {payout}, edge {edge:.6f} x {shares}"
        legs_out = [
            BasketLeg(
                market=leg.market.condition_id,
                token_id=leg.token_id,
                side=Side.BUY,
                price=leg.ask.price,
                size=shares,
            )
            for leg in legs
        ]
        return [
            basket(
                event,
                strategy=NAME,
                signal_key=key,
                market=basket_id,
                legs=legs_out,
                reason=reason,
                order_type=OrderType.FOK,
            )
        ]


def _legs(picks: list[tuple[Market, str]]) -> list[Leg] | None:
    legs = []
    for market, token_id in picks:
        book = market.books.get(token_id)
        ask = None if book is None else book.best_ask()
        if ask is None or not market.tradable:
            return None
        price = taker_price(ask.price, market.tick_size, Side.BUY)
        legs.append(Leg(market, token_id, PriceLevel(price=price, size=ask.size)))
    return legs
