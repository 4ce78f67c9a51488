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

_LEVEL_QUOTES = 8


def _plain(text: str, quotes: int) -> bool:
    """Whether `text` holds exactly `quotes` quote characters and nothing JSON would escape."""
    return text.count('"') == quotes and "\\" not in text and text.isascii() and text.isprintable()


def level_json(price: str, size: str) -> str:
    """One level's JSON text, checked once: a book keeps these and joins them for every hash."""
    text = f'{{"price":"{price}","size":"{size}"}}'
    if not _plain(text, _LEVEL_QUOTES):
        raise ValueError("book hash input is not a plain id or decimal string")
    return text


class BookHasher:
    """The hashes of one token's book: the JSON around the levels is checked and built once per distinct
    (tick size, neg risk, last trade price, min order size), not once per hash; a timestamp of digits
    needs no further check. Ingest hashes a book on every change, so this is its hot path."""

    __slots__ = ("_head", "_tails")

    def __init__(self, market: str, asset_id: str) -> None:
        head = f'{{"market":"{market}","asset_id":"{asset_id}","timestamp":"'
        if not _plain(head, 11):
            raise ValueError("book hash input is not a plain id or decimal string")
        self._head = head
        self._tails: dict[tuple[str, bool, str | None, str], str] = {}

    def hash(
        self,
        timestamp: str,
        bids_json: str,
        asks_json: str,
        tick_size: str,
        neg_risk: bool,
        last_trade_price: str | None,
        min_order_size: str = "5",
    ) -> str:
        """The hash from levels already in JSON (level_json texts joined by commas, in wire order)."""
        key = (tick_size, neg_risk, last_trade_price, min_order_size)
        tail = self._tails.get(key)
        if tail is None:
            tail = self._tail(*key)
        if not (timestamp.isdigit() and timestamp.isascii()) and not _plain(timestamp, 0):
            raise ValueError("book hash input is not a plain id or decimal string")
        text = f'{self._head}{timestamp}","hash":"","bids":[{bids_json}],"asks":[{asks_json}{tail}'
        return hashlib.sha1(text.encode()).hexdigest()

    def _tail(self, tick_size: str, neg_risk: bool, last_trade_price: str | None, min_order_size: str) -> str:
        neg = "true" if neg_risk else "false"
        ltp = "" if last_trade_price is None else f',"last_trade_price":"{last_trade_price}"'
        tail = f'],"min_order_size":"{min_order_size}","tick_size":"{tick_size}","neg_risk":{neg}{ltp}}}'
        # A value holding a quote, a backslash or a control character would need JSON escaping.
        if not _plain(tail, 10 + (4 if last_trade_price is not None else 0)):
            raise ValueError("book hash input is not a plain id or decimal string")
        if len(self._tails) >= 16:  # a book sees few distinct recipes; never let them pile up
            self._tails.clear()
        self._tails[(tick_size, neg_risk, last_trade_price, min_order_size)] = tail
        return tail


def book_hash_of(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids_json: str,
    asks_json: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str | None,
    min_order_size: str = "5",
) -> str:
    """The hash from levels already in JSON (level_json texts joined by commas, in wire order)."""
    hasher = BookHasher(market, asset_id)
    return hasher.hash(timestamp, bids_json, asks_json, tick_size, neg_risk, last_trade_price, min_order_size)


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
    return book_hash_of(
        market=market,
        asset_id=asset_id,
        timestamp=timestamp,
        bids_json=",".join(level_json(price, size) for price, size in bids),
        asks_json=",".join(level_json(price, size) for price, size in asks),
        tick_size=tick_size,
        neg_risk=neg_risk,
        last_trade_price=last_trade_price,
        min_order_size=min_order_size,
    )
