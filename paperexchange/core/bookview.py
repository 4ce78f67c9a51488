"""The wire view of a market's books: per-token snapshots (`book`, GET /book) and `price_change` entries.

The NO token's book is the YES book mirrored (price -> 1 - price, bid <-> ask). Levels go out in wire
order (bids ascending, asks descending, best last) and every snapshot and entry carries the venue hash.
"""

from __future__ import annotations

from paperexchange.core.engine import BUY, SELL, Book
from paperexchange.core.markets import Market
from paperexchange.core.units import ONE, amount_str, price_str, price_str_fixed, tick_places
from shared.polymarket.book_hash import book_hash

Levels = dict[str, dict[int, int]]  # side -> own-token price -> size, for one token


def token_levels(book: Book, market: Market, token_id: str) -> Levels:
    if market.is_yes(token_id):
        return {BUY: dict(book.levels(BUY)), SELL: dict(book.levels(SELL))}
    return {
        BUY: {ONE - price: size for price, size in book.levels(SELL)},
        SELL: {ONE - price: size for price, size in book.levels(BUY)},
    }


def wire_levels(levels: Levels) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids = [(price_str(p), amount_str(levels[BUY][p])) for p in sorted(levels[BUY]) if levels[BUY][p] > 0]
    asks = [
        (price_str(p), amount_str(levels[SELL][p]))
        for p in sorted(levels[SELL], reverse=True)
        if levels[SELL][p] > 0
    ]
    return bids, asks


def last_trade_str(market: Market, yes_price: int | None, token_id: str) -> str:
    """Book-style last trade price: fixed decimals ("0.500"), the market's last trade at its YES price.

    The SAME value for both tokens, not mirrored for NO: in the hash-verified December 2025 sequence
    (../shared/fixtures/SHAPES.md [A]) both tokens' price_change hashes after a fill verify only with one
    price ("0.490"). Which token's price it is cannot be told from the captures; the first (YES) token's
    is used (docs/paper-exchange.md). GET /last-trade-price stays per token."""
    del token_id  # one value per market
    if yes_price is None:
        yes_price = ONE // 2
    return price_str_fixed(yes_price, max(3, tick_places(market.tick_units)))


def _hash(market: Market, token_id: str, timestamp: str, bids, asks, ltp: str) -> str:
    """The summary exactly as GET /book sends it, its min_order_size included (a market of 15 hashes "15")."""
    return book_hash(
        market=market.condition_id,
        asset_id=token_id,
        timestamp=timestamp,
        bids=bids,
        asks=asks,
        tick_size=market.tick_size,
        neg_risk=market.neg_risk,
        last_trade_price=ltp,
        min_order_size=str(market.min_order_size),
    )


def book_summary(market: Market, book: Book, token_id: str, timestamp: str, last_yes: int | None) -> dict:
    """GET /book body (and, with event_type added, the market channel `book` event)."""
    bids, asks = wire_levels(token_levels(book, market, token_id))
    ltp = last_trade_str(market, last_yes, token_id)
    return {
        "market": market.condition_id,
        "asset_id": token_id,
        "timestamp": timestamp,
        "hash": _hash(market, token_id, timestamp, bids, asks, ltp),
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        "min_order_size": str(market.min_order_size),
        "tick_size": market.tick_size,
        "neg_risk": market.neg_risk,
        "last_trade_price": ltp,
    }


def trade_book(market: Market, book: Book, token_id: str, timestamp: str, last_yes: int | None) -> dict:
    """The `book` frame the venue sends after a trade changed the book (docs: "Sent ... after a trade
    changes the book"). Key set and order as in the captured trade-triggered frame (SHAPES.md [A] line 3):
    no tick_size, min_order_size, neg_risk or last_trade_price; the hash still covers them."""
    summary = book_summary(market, book, token_id, timestamp, last_yes)
    return {
        "market": summary["market"],
        "asset_id": token_id,
        "bids": summary["bids"],
        "asks": summary["asks"],
        "hash": summary["hash"],
        "timestamp": timestamp,
        "event_type": "book",
    }


def _best(levels: Levels) -> tuple[str, str]:
    bids = [p for p, s in levels[BUY].items() if s > 0]
    asks = [p for p, s in levels[SELL].items() if s > 0]
    return (price_str(max(bids)) if bids else "0", price_str(min(asks)) if asks else "1")


def price_change_entries(
    market: Market, book: Book, before: dict[tuple[str, int], int], timestamp: str, last_yes: int | None
) -> list[dict]:
    """Entries for every YES level in `before` (side, price -> size before) whose size changed.

    Each YES entry is followed by its mirrored NO entry; each entry's hash is that token's book hash
    after applying the entries up to and including it, as the venue computes it.
    """
    yes_id, no_id = market.token_ids
    after = {BUY: dict(book.levels(BUY)), SELL: dict(book.levels(SELL))}
    changed = [
        (key, after[key[0]].get(key[1], 0))
        for key in sorted(before)
        if before[key] != after[key[0]].get(key[1], 0)
    ]
    if not changed:
        return []
    # Working copies start from the state before the action and take the entries one by one.
    yes_work = {side: dict(after[side]) for side in (BUY, SELL)}
    for (side, price), _ in changed:
        yes_work[side][price] = before[(side, price)]
    no_work = {
        BUY: {ONE - p: s for p, s in yes_work[SELL].items()},
        SELL: {ONE - p: s for p, s in yes_work[BUY].items()},
    }
    entries = []
    for (side, price), size in changed:
        yes_work[side][price] = size
        no_side, no_price = (SELL if side == BUY else BUY), ONE - price
        no_work[no_side][no_price] = size
        for token_id, work, entry_side, entry_price in (
            (yes_id, yes_work, side, price),
            (no_id, no_work, no_side, no_price),
        ):
            bids, asks = wire_levels(work)
            best_bid, best_ask = _best(work)
            entries.append(
                {
                    "asset_id": token_id,
                    "price": price_str(entry_price),
                    "size": amount_str(size),
                    "side": entry_side,
                    "hash": _hash(
                        market, token_id, timestamp, bids, asks, last_trade_str(market, last_yes, token_id)
                    ),
                    "best_bid": best_bid,
                    "best_ask": best_ask,
                }
            )
    return entries


def best_bid_ask(book: Book, market: Market, token_id: str) -> tuple[str, str]:
    return _best(token_levels(book, market, token_id))
