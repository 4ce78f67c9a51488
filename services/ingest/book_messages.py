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


def deltas(applied: list[DeltasApplied], producer: str) -> list[BookDelta]:
    """One BookDelta per market, its tokens' changes together."""
    by_market: dict[str, list[DeltasApplied]] = {}
    for delta in applied:
        by_market.setdefault(delta.market, []).append(delta)
    out = []
    for market, items in by_market.items():
        changes = tuple(
            LevelChange(
                token_id=d.asset_id,
                side=Side.BUY if c.side == "bid" else Side.SELL,
                price=Decimal(c.price),
                size=Decimal(c.size),
            )
            for d in items
            for c in d.changes
        )
        out.append(
            BookDelta(
                envelope=Envelope.new(producer, source_ts_ns=parse.ms_to_ns(items[0].timestamp)),
                market=market,
                changes=changes,
                best_bid={d.asset_id: None if d.top.bid is None else Decimal(d.top.bid) for d in items},
                best_ask={d.asset_id: None if d.top.ask is None else Decimal(d.top.ask) for d in items},
                epoch=max(d.epoch for d in items),
            )
        )
    return out


def same_levels(book: OrderBook, snap: object) -> bool:
    """Whether `book` has exactly the levels of a REST /book answer (prices and sizes compared as numbers)."""
    bids = [(level.price, level.size) for level in getattr(snap, "bids", ())]
    asks = [(level.price, level.size) for level in getattr(snap, "asks", ())]
    return _norm(book.wire_bids()) == _norm(bids) and _norm(book.wire_asks()) == _norm(asks)


def _norm(levels: list[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(s)) for p, s in levels]
