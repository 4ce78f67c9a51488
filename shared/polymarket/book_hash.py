"""The venue's order-book hash: SHA-1 over a compact JSON summary of one token's book.

Recipe as verified against real captures (../shared/fixtures/SHAPES.md §1): keys in the order
market, asset_id, timestamp, hash (empty), bids, asks, min_order_size, tick_size, neg_risk,
last_trade_price; levels in wire order (bids ascending, asks descending: best level last); every
number a decimal string exactly as sent. The venue does not send `min_order_size` on the wire and
hashes "5".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

Level = tuple[str, str]  # (price, size) as the wire's decimal strings


def book_hash(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids: Iterable[Level],
    asks: Iterable[Level],
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
    min_order_size: str = "5",
) -> str:
    """Return the 40-hex-char hash (no `0x`) of a book whose levels are given in wire order."""
    summary = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": str(timestamp),
        "hash": "",
        "bids": [{"price": price, "size": size} for price, size in bids],
        "asks": [{"price": price, "size": size} for price, size in asks],
        "min_order_size": min_order_size,
        "tick_size": tick_size,
        "neg_risk": neg_risk,
        "last_trade_price": last_trade_price,
    }
    return hashlib.sha1(json.dumps(summary, separators=(",", ":")).encode()).hexdigest()
