"""Indexes of the exchange's own trades for the read APIs: fills per wallet (Data API) and per market
(Gamma volume). Fed by `Exchange.on_trade`; FAILED trades are skipped at read time, as an indexer of
on-chain fills would never see them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from paperexchange.core.engine import BUY, Order
from paperexchange.core.exchange import Exchange
from paperexchange.core.trades import MakerPart, Trade
from paperexchange.core.units import AMOUNT_SCALE, PRICE_SCALE

DAY_SECS = 86_400


@dataclass(frozen=True, slots=True)
class Fill:
    """One order's side of one maker part of a trade, as its wallet's on-chain fill shows it (a taker
    that reached three makers has three fills, as the exchange contract settles them)."""

    trade: Trade
    order: Order
    part: MakerPart

    @property
    def wallet(self) -> str:
        return self.order.maker.lower()

    @property
    def price(self) -> float:
        return self.order.own_price(self.part.yes_price) / PRICE_SCALE

    @property
    def size(self) -> float:
        return self.part.size / AMOUNT_SCALE

    @property
    def usdc(self) -> float:
        return self.part.collateral_of(self.order) / AMOUNT_SCALE

    @property
    def live(self) -> bool:
        return self.trade.status != "FAILED"


class Activity:
    def __init__(self, exchange: Exchange) -> None:
        self.fills: list[Fill] = []
        self._by_wallet: dict[str, list[Fill]] = defaultdict(list)
        self._by_market: dict[str, list[Trade]] = defaultdict(list)
        exchange.on_trade.append(self._on_trade)

    def _on_trade(self, trade: Trade) -> None:
        self._by_market[trade.market.condition_id].append(trade)
        for part in trade.parts:
            for order in (trade.taker, part.order):
                fill = Fill(trade, order, part)
                self.fills.append(fill)
                self._by_wallet[fill.wallet].append(fill)

    def of_wallet(self, wallet: str) -> list[Fill]:
        return [fill for fill in self._by_wallet.get(wallet.lower(), ()) if fill.live]

    def all(self) -> list[Fill]:
        return [fill for fill in self.fills if fill.live]

    def volume(self, condition_id: str, since: float = 0.0) -> float:
        """pUSD traded in a market (the YES-side notional of each fill), optionally since a time."""
        return sum(
            part.size * part.yes_price / PRICE_SCALE / AMOUNT_SCALE
            for trade in self._by_market.get(condition_id, ())
            if trade.status != "FAILED" and trade.match_time >= since
            for part in trade.parts
        )

    def last_trade_time(self, condition_id: str) -> int | None:
        trades = self._by_market.get(condition_id)
        return trades[-1].match_time if trades else None


def cost_basis(fills: list[Fill], token_id: str) -> tuple[float, float, float]:
    """(average entry price, pUSD paid for the shares still held, realized PnL) over a wallet's fills."""
    shares = cost = realized = 0.0
    for fill in fills:
        if fill.order.token_id != token_id:
            continue
        if fill.order.side == BUY:
            shares += fill.size
            cost += fill.usdc
        elif shares > 0:
            sold = min(fill.size, shares)
            average = cost / shares
            realized += sold * (fill.price - average)
            cost -= sold * average
            shares -= sold
    return (cost / shares if shares > 0 else 0.0), cost, realized
