"""Shared helpers for the ingest tests: a reference book that writes market-channel frames (with the
venue's hashes and best bid/ask) for a known book state."""

from __future__ import annotations

from decimal import Decimal

from shared.polymarket.book_hash import book_hash

MARKET = "0x" + "5f" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


class RefBook:
    """A deliberately naive book (dicts + sort on every read) used as the oracle."""

    def __init__(self, asset_id: str, bids=(), asks=(), *, market: str = MARKET, tick: str = "0.01",
                 neg_risk: bool = False, ltp: str = "0.500") -> None:
        self.asset_id, self.market, self.tick, self.neg_risk, self.ltp = asset_id, market, tick, neg_risk, ltp
        self.bids = dict(bids)
        self.asks = dict(asks)

    def apply(self, side: str, price: str, size: str) -> None:
        book = self.bids if side == "BUY" else self.asks
        if Decimal(size) == 0:
            book.pop(price, None)
        else:
            book[price] = size

    def wire_bids(self):
        return sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]))

    def wire_asks(self):
        return sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]), reverse=True)

    def best(self) -> tuple[str, str]:
        bid = max(self.bids, key=Decimal) if self.bids else "0"
        ask = min(self.asks, key=Decimal) if self.asks else "1"
        return bid, ask

    def hash(self, timestamp: str) -> str:
        return book_hash(market=self.market, asset_id=self.asset_id, timestamp=timestamp,
                         bids=self.wire_bids(), asks=self.wire_asks(), tick_size=self.tick,
                         neg_risk=self.neg_risk, last_trade_price=self.ltp)

    def book_frame(self, timestamp: str = "1700000000000", *, with_tick: bool = True) -> dict:
        frame = {
            "market": self.market, "asset_id": self.asset_id, "timestamp": timestamp,
            "hash": self.hash(timestamp),
            "bids": [{"price": p, "size": s} for p, s in self.wire_bids()],
            "asks": [{"price": p, "size": s} for p, s in self.wire_asks()],
            "event_type": "book", "last_trade_price": self.ltp,
        }
        if with_tick:
            frame["tick_size"] = self.tick
        return frame

    def change(self, side: str, price: str, size: str, timestamp: str) -> dict:
        """Apply a change to the oracle and return the price_changes entry the venue would send."""
        self.apply(side, price, size)
        best_bid, best_ask = self.best()
        return {"asset_id": self.asset_id, "price": price, "size": size, "side": side,
                "hash": self.hash(timestamp), "best_bid": best_bid, "best_ask": best_ask}


def price_change(entries: list[dict], timestamp: str, market: str = MARKET) -> dict:
    return {"market": market, "price_changes": entries, "timestamp": timestamp, "event_type": "price_change"}
