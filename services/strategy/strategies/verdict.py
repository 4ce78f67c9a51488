"""External verdicts: trade the edge between a posted fair probability and the book.

A signal (from the `signals` stream) sets the fair probability of one token (the market's first, YES, when
none is named; its complement gets 1 - p). While the signal is unexpired, the first book state where a
token's ask plus taker fee sits at least the minimum edge below its fair value buys it, once per signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.strategy import sizing
from services.strategy.intents import Ignored, Intent, order
from services.strategy.pricing import ONE, bps, taker_fee_per_share, taker_price, tradable_size
from services.strategy.state import Market, WorldState, event_market
from shared.messages import BookDelta, BookSnapshot, ExternalSignal, Message, OrderType, Side

NAME = "verdict"
SIZING_MODES = ("fixed", "kelly", "volatility")


@dataclass(frozen=True)
class SizingParams:
    mode: str = "kelly"
    fixed_usd: Decimal = Decimal(10)
    bankroll_usd: Decimal = Decimal(1000)
    kelly_fraction: Decimal = Decimal("0.25")
    max_usd: Decimal = Decimal(50)
    vol_target: Decimal = Decimal("0.01")


@dataclass(frozen=True)
class VerdictParams:
    min_edge_bps: Decimal
    sizing: SizingParams


@dataclass
class Verdict:
    signal: ExternalSignal
    token_id: str
    acted: bool = False

    def fair_values(self, market: Market) -> dict[str, Decimal]:
        fair = {self.token_id: self.signal.probability}
        other = market.complement(self.token_id)
        if other is not None:
            fair[other] = ONE - self.signal.probability
        return fair


class ExternalVerdict:
    name = NAME

    def __init__(self, params: VerdictParams) -> None:
        if params.sizing.mode not in SIZING_MODES:
            raise ValueError(f"sizing mode must be one of {SIZING_MODES}, not {params.sizing.mode!r}")
        self.params = params

    def relevant(self, event: Message) -> bool:
        return isinstance(event, ExternalSignal)

    def on_event(self, state: WorldState, event: Message, now: float) -> list[Intent]:
        memory = state.strategy_memory(NAME)
        if isinstance(event, ExternalSignal):
            market = state.markets.get(event.market)
            token = event.token_id or (market.token_ids[0] if market and market.token_ids else None)
            if market is None:
                return Ignored("market not known to this worker")
            if token is None or token not in market.token_ids:
                return Ignored(f"token {event.token_id} is not one of the market's")
            memory[event.market] = Verdict(event, token)
        elif not isinstance(event, BookSnapshot | BookDelta):
            return []
        key = event.market if isinstance(event, ExternalSignal) else event_market(event)
        verdict = memory.get(key or "")
        if not isinstance(verdict, Verdict) or verdict.acted:
            return Ignored("this verdict was acted on already") if isinstance(verdict, Verdict) else []
        expires = verdict.signal.expires_at_ts
        if expires is not None and now >= expires:
            return Ignored("expired")
        return self._trade(state, event, verdict)

    def _trade(self, state: WorldState, event: Message, verdict: Verdict) -> list[Intent]:
        market = state.markets[verdict.signal.market]
        if not market.tradable:
            return Ignored("market not tradable; kept until it expires")
        best: tuple[Decimal, str, Decimal, Decimal, Decimal] | None = None
        for token_id, fair in verdict.fair_values(market).items():
            book = market.books.get(token_id)
            ask = None if book is None else book.best_ask()
            if ask is None:
                continue
            price = taker_price(ask.price, market.tick_size, Side.BUY)
            info = market.info
            fee = taker_fee_per_share(price, info.fee_rate, info.fee_exponent) if info else Decimal(0)
            edge = fair - price - fee
            if best is None or edge > best[0]:
                best = (edge, token_id, fair, price, ask.size)
        if best is None:
            return Ignored("no ask on either token yet; kept until it expires")
        if best[0] < bps(self.params.min_edge_bps) or best[0] <= 0:
            return Ignored(
                f"edge {best[0]:.4f} below the minimum {bps(self.params.min_edge_bps)}; kept until it expires"
            )
        edge, token_id, fair, price, depth = best
        shares = tradable_size(min(self._size(state, token_id, fair, price), depth), market.min_size)
        if shares is None:
            return Ignored(f"size below the market minimum {market.min_size}; kept until it expires")
        verdict.acted = True
        return [
            order(
                event,
                strategy=NAME,
                signal_key=f"verdict:{verdict.signal.envelope.message_id}",
                leg="0",
                market=market.condition_id,
                token_id=token_id,
                side=Side.BUY,
                price=price,
                size=shares,
                order_type=OrderType.FAK,
                reason=f"verdict_edge: {verdict.signal.source} fair {fair} vs ask {price}, edge {edge:.4f}",
            )
        ]

    def _size(self, state: WorldState, token_id: str, fair: Decimal, price: Decimal) -> Decimal:
        p = self.params.sizing
        if p.mode == "fixed":
            return sizing.fixed(min(p.fixed_usd, p.max_usd), price)
        if p.mode == "volatility":
            return sizing.volatility_scaled(
                p.fixed_usd,
                price,
                volatility=state.volatility(token_id),
                target_volatility=p.vol_target,
                max_usd=p.max_usd,
            )
        return sizing.kelly(
            fair, price, bankroll_usd=p.bankroll_usd, fraction=p.kelly_fraction, max_usd=p.max_usd
        )
