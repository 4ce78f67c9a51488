"""The venue's order-book hash: SHA-1 over a compact JSON summary of one token's book.

Recipe as verified against real captures (../shared/fixtures/SHAPES.md §1): keys in the order
market, asset_id, timestamp, hash (empty), bids, asks, min_order_size, tick_size, neg_risk,
last_trade_price; levels in wire order (bids ascending, asks descending: best level last); every
number a decimal string exactly as sent. The venue does not send `min_order_size` on the wire and
hashes "5". Books from before Dec 2025 were hashed without `last_trade_price`: pass None for those.

The JSON text is assembled directly rather than through json.dumps: the hash runs on every book
change, and every value is an id or a decimal string that needs no escaping (checked, not assumed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

Level = tuple[str, str]  # (price, size) as the wire's decimal strings

_FIXED_QUOTES = 30  # quote characters in the summary's keys and scalar values, without levels
_QUOTES_PER_LEVEL = 8


def _levels(levels: Iterable[Level]) -> str:
    return ",".join(f'{{"price":"{price}","size":"{size}"}}' for price, size in levels)


def book_hash(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids: Iterable[Level],
    asks: Iterable[Level],
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str | None,
    min_order_size: str = "5",
) -> str:
    """Return the 40-hex-char hash (no `0x`) of a book whose levels are given in wire order."""
    bids, asks = list(bids), list(asks)
    text = (
        f'{{"market":"{market}","asset_id":"{asset_id}","timestamp":"{timestamp}","hash":"",'
        f'"bids":[{_levels(bids)}],"asks":[{_levels(asks)}],"min_order_size":"{min_order_size}",'
        f'"tick_size":"{tick_size}","neg_risk":{"true" if neg_risk else "false"}'
    )
    quotes = _FIXED_QUOTES + _QUOTES_PER_LEVEL * (len(bids) + len(asks))
    if last_trade_price is not None:
        text += f',"last_trade_price":"{last_trade_price}"}}'
        quotes += 4
    else:
        text += "}"
    # A value holding a quote, a backslash or a control character would need JSON escaping.
    if text.count('"') != quotes or "\\" in text or not (text.isascii() and text.isprintable()):
        raise ValueError("book hash input is not a plain id or decimal string")
    return hashlib.sha1(text.encode()).hexdigest()
