"""Builders shared by the risk tests: a market, intents, fills, and a settable clock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from shared import messages as m

CID = "0x" + "ab" * 32
YES = "1001"
NO = "1002"
NOW = 1_767_000_000.0  # 2025-12-29T09:20:00Z


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


def market_info(*, volume: str = "50000", end_ts: int | None = int(NOW) + 10 * 86_400, cid: str = CID,
                tokens: tuple[str, str] = (YES, NO)) -> m.MarketInfo:
    return m.MarketInfo(condition_id=cid, question="q?", slug="q", tick_size=D("0.01"), min_order_size=D(5),
                        tokens=(m.TokenInfo(token_id=tokens[0], outcome="Yes"),
                                m.TokenInfo(token_id=tokens[1], outcome="No")),
                        end_date_ts=end_ts, volume_24h_usd=D(volume))


def intent(*, size: str = "10", price: str = "0.50", side: m.Side = m.Side.BUY, key: str = "copy:1",
           strategy: str = "copy", market: str = CID, token: str = YES, message_id: str | None = None) -> m.OrderIntent:
    return m.OrderIntent(envelope=m.Envelope.new("strategy", message_id=message_id), token_id=token, side=side,
                         size=D(size), price=D(price), reason="test", strategy=strategy, signal_key=key, market=market)


def fill(trade_id: str, status: m.TradeStatus, *, side: m.Side = m.Side.BUY, size: str = "10", price: str = "0.50",
         token: str = YES, fee: str = "0", order: str = "0xo", client: str | None = "c1") -> m.Fill:
    return m.Fill(envelope=m.Envelope.new("executor"), trade_id=trade_id, status=status, order_id=order,
                  client_order_id=client, market=CID, token_id=token, side=side, size=D(size), price=D(price),
                  fee_usd=D(fee))
