"""Builders of the bus messages a strategy sees, and a compact view of intents for exact comparisons."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from services.strategy.intents import Intent
from shared.messages import (
    BasketIntent,
    BookDelta,
    BookSnapshot,
    CancelIntent,
    Envelope,
    ExternalSignal,
    Fill,
    LevelChange,
    MarketDiscovered,
    MarketInfo,
    Message,
    OrderIntent,
    PriceLevel,
    Side,
    TokenInfo,
    TradeSeen,
    TradeStatus,
    replace,
)

D = Decimal
_clock = count(1)
T0 = 1_700_000_000


def env(at: float | None = None) -> Envelope:
    """An envelope created at `at` (unix seconds; default: a new second after T0 for each message)."""
    base = Envelope.new("test")
    ts = int(((T0 + next(_clock)) if at is None else at) * 1e9)
    return replace(base, created_ts_ns=ts, source_ts_ns=ts)


def info(cid: str, *, tick: str = "0.01", min_size: str = "5", neg_risk_id: str | None = None,
         fee_rate: str = "0", fee_exponent: str = "0", tokens: tuple[str, ...] | None = None) -> MarketInfo:
    names = tokens or (f"{cid}-yes", f"{cid}-no")
    return MarketInfo(
        condition_id=cid, question=f"{cid}?", slug=cid, tokens=tuple(
            TokenInfo(token_id=t, outcome=o) for t, o in zip(names, ("Yes", "No"), strict=False)),
        neg_risk=neg_risk_id is not None, neg_risk_market_id=neg_risk_id, tick_size=D(tick),
        min_order_size=D(min_size), fee_rate=D(fee_rate), fee_exponent=D(fee_exponent),
    )


def discovered(market: MarketInfo, at: float | None = None) -> MarketDiscovered:
    return MarketDiscovered(envelope=env(at), market=market)


def levels(pairs: list[tuple[str, str]]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(price=D(p), size=D(s)) for p, s in pairs)


def snapshot(market: MarketInfo, token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], *,
             epoch: int = 0, at: float | None = None) -> BookSnapshot:
    return BookSnapshot(envelope=env(at), market=market.condition_id, token_id=token, bids=levels(bids),
                        asks=levels(asks), tick_size=market.tick_size, min_order_size=market.min_order_size,
                        neg_risk=market.neg_risk, epoch=epoch)


def delta(market: MarketInfo, token: str, side: Side, price: str, size: str, *, epoch: int = 0,
          at: float | None = None) -> BookDelta:
    change = LevelChange(token_id=token, side=side, price=D(price), size=D(size))
    return BookDelta(envelope=env(at), market=market.condition_id, changes=(change,), epoch=epoch)


def trade(market: MarketInfo, token: str, side: Side, size: str, price: str, *, wallet: str = "0xLEADER",
          key: str = "tx1", at: float | None = None) -> TradeSeen:
    return TradeSeen(envelope=env(at), wallet=wallet, market=market.condition_id, token_id=token, side=side,
                     size=D(size), price=D(price), trade_key=key, traded_at_ts=T0)


def signal(market: MarketInfo, probability: str, *, token: str | None = None, expires: int | None = None,
           at: float | None = None) -> ExternalSignal:
    return ExternalSignal(envelope=env(at), market=market.condition_id, token_id=token,
                          probability=D(probability), source="test", expires_at_ts=expires)


def fill(market: MarketInfo, token: str, side: Side, size: str, *, trade_id: str = "t1",
         status: TradeStatus = TradeStatus.MATCHED, price: str = "0.5", order_id: str = "o1") -> Fill:
    return Fill(envelope=env(), trade_id=trade_id, status=status, order_id=order_id, client_order_id=f"c-{order_id}",
                market=market.condition_id, token_id=token, side=side, size=D(size), price=D(price))


def view(intent: Intent) -> tuple[object, ...]:
    """What a test compares: everything that matters to risk, without timestamps."""
    if isinstance(intent, CancelIntent):
        return ("cancel", intent.strategy, intent.signal_key, intent.market)
    assert isinstance(intent, OrderIntent)
    return (intent.strategy, intent.signal_key, intent.market, intent.token_id, intent.side.value,
            str(intent.price), str(intent.size), intent.order_type.value)


def views(intents: list[Intent]) -> list[tuple[object, ...]]:
    """One view per order; a basket's legs each get one, in order."""
    out: list[tuple[object, ...]] = []
    for i in intents:
        if isinstance(i, BasketIntent):
            out += [(i.strategy, i.signal_key, leg.market, leg.token_id, leg.side.value, str(leg.price),
                     str(leg.size), i.order_type.value) for leg in i.legs]
        else:
            out.append(view(i))
    return out


def feed(engine, messages: list[Message]) -> list[Intent]:
    """Every intent the engine emits for a scripted sequence, in order."""
    out: list[Intent] = []
    for message in messages:
        if isinstance(message, ExternalSignal):
            out += engine.on_signal(message)
        elif isinstance(message, Fill):
            engine.on_fill(message)
        else:
            out += engine.on_event(message)
    return out
