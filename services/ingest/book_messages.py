"""Book outcomes (book.py) as bus messages: a snapshot per (re)synced book, one delta per market per frame
with the best bid/ask after it; and whether a book equals a REST /book answer. Pure."""

from __future__ import annotations

from decimal import Decimal

from services.ingest.book import DeltasApplied, OrderBook, SnapshotApplied
from shared.messages import BookDelta, BookSnapshot, Envelope, LevelChange, PriceLevel, Side
from shared.polymarket import parse


def _levels(levels: tuple[tuple[str, str], ...]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(price=Decimal(p), size=Decimal(s)) for p, s in levels)


def snapshot(outcome: SnapshotApplied, book: OrderBook, producer: str) -> BookSnapshot:
    return BookSnapshot(
        envelope=Envelope.new(producer, source_ts_ns=parse.ms_to_ns(outcome.timestamp)),
        market=outcome.market,
        token_id=outcome.asset_id,
        bids=_levels(outcome.bids),
        asks=_levels(outcome.asks),
        tick_size=Decimal(outcome.tick_size or book.tick_size or "0.01"),
        min_order_size=Decimal(book.min_order_size),
        neg_risk=bool(book.neg_risk),
        venue_hash=None,
        epoch=outcome.epoch,
    )


_SIDES = {"bid": Side.BUY, "ask": Side.SELL}
_DECIMALS: dict[str, Decimal] = {}  # a market uses few distinct price and size texts: each parsed once


def _decimal(text: str) -> Decimal:
    """Decimal(text), shared (Decimals are immutable): a dict hit costs a fifth of parsing the text."""
    value = _DECIMALS.get(text)
    if value is None:
        if len(_DECIMALS) >= 100_000:  # never let them pile up
            _DECIMALS.clear()
        value = _DECIMALS[text] = Decimal(text)
    return value


def deltas(applied: list[DeltasApplied], producer: str) -> list[BookDelta]:
    """One BookDelta per market, its tokens' changes together (in the order applied), with each token's best
    bid and ask after them."""
    if not applied:
        return []
    first = applied[0].market
    if all(d.market == first for d in applied):  # a price_change names one market: no grouping to do
        return [_delta(first, applied, producer)]
    by_market: dict[str, list[DeltasApplied]] = {}
    for delta in applied:
        by_market.setdefault(delta.market, []).append(delta)
    return [_delta(market, items, producer) for market, items in by_market.items()]


def _delta(market: str, items: list[DeltasApplied], producer: str) -> BookDelta:
    # Written as plain loops: ingest builds one of these per frame, and generator expressions and
    # comprehensions over the same items cost it about a third more.
    changes: list[LevelChange] = []
    best_bid: dict[str, Decimal | None] = {}
    best_ask: dict[str, Decimal | None] = {}
    epoch = items[0].epoch
    decimal = _decimal
    for d in items:
        token = d.asset_id
        for side, price, size in d.changes:
            changes.append(
                LevelChange(token_id=token, side=_SIDES[side], price=decimal(price), size=decimal(size))
            )
        bid, ask = d.top.bid, d.top.ask
        best_bid[token] = None if bid is None else decimal(bid)
        best_ask[token] = None if ask is None else decimal(ask)
        epoch = max(epoch, d.epoch)
    return BookDelta(
        envelope=Envelope.new(producer, source_ts_ns=parse.ms_to_ns(items[0].timestamp)),
        market=market,
        changes=tuple(changes),
        best_bid=best_bid,
        best_ask=best_ask,
        epoch=epoch,
    )


def same_levels(book: OrderBook, snap: object) -> bool:
    """Whether `book` has exactly the levels of a REST /book answer (prices and sizes compared as numbers)."""
    bids = [(level.price, level.size) for level in getattr(snap, "bids", ())]
    asks = [(level.price, level.size) for level in getattr(snap, "asks", ())]
    return _norm(book.wire_bids()) == _norm(bids) and _norm(book.wire_asks()) == _norm(asks)


def _norm(levels: list[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(s)) for p, s in levels]
