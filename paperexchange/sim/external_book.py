"""External books: the paper exchange's books follow another venue's, and our orders match against them.

A *source* turns another venue's market channel into `BookBatch` values, in order: a recorded tape
(`TapeBookSource` in paperexchange/sim/tape_source.py; what `polydesk backtest` replays) or a live venue's
market channel (`LiveMirror` in paperexchange/sim/live_mirror.py; `polydesk up --paper-live`).
`ExternalBooks.apply(batch)` makes the paper exchange's books follow them.

The interface a new source implements (`BookSource` below, or its async twin for a live socket):
- yield `BookBatch`es in the venue's order; `batches_from_frames` groups market-channel frames (decoded
  JSON, one object or an array each) by event timestamp, so a source of frames needs nothing else. A live
  source must hold a batch until a frame with a later timestamp arrives (or a short quiet time passes): a
  trade's `last_trade_price` and its `price_change` share a timestamp and must be applied together;
- create the source's markets on the venue first (`TapeBookSource.create_markets` does it from Gamma
  objects; `market_from_gamma` is the conversion);
- on the exchange's event loop, for each batch: move the venue's clock to the batch's time (never back),
  call `venue.tick()` (settlement, GTD expiry, delayed takers at that instant), then `apply(batch)`.

The model (docs/backtest.md):
- The external venue's resting size at each level of a market's YES book is held as orders of one
  internal wallet (EXTERNAL_OWNER) in the exchange's own price-time book, so our orders and the external
  size share one FIFO queue: an order of ours that joins a level rests *behind* the size already there.
- A level update (a `book` snapshot or `price_change`) says the external size now; growth is added at the
  back of the queue (behind us), a decrease is taken from the back first (an external cancel never moves
  us ahead of size that was ahead of us unless nothing is left behind us). Only the YES token's updates
  are read: the NO book is its mirror, as the exchange keeps it.
- A trade print (`last_trade_price`) is replayed as an internal taker of its size and side at its price:
  it trades with what rests at better prices first (ours too: a print through our price fills us), then
  with the level's queue in time order, so it reaches our order only after the size ahead of it, and may
  fill it partly. A batch's prints are applied before its level updates, which then set the size the
  source reports (the part of a print that filled us is taken from the back, like a cancel).
- Our marketable orders take the external size at the book as it is (the exchange's own matching); what
  we took stays gone until the source's size at that level has dropped by as much (`_depleted`), since
  the source never saw our trade.
- External size that would cross one of our resting orders is held back (never a crossed book, never a
  fill we did not earn from a print) and placed once it no longer crosses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from paperexchange.core.engine import BUY, SELL, Order, plan_fills
from paperexchange.core.markets import Market
from paperexchange.core.trades import Trade
from paperexchange.core.units import AMOUNT_SCALE, parse_price

if TYPE_CHECKING:  # the venue assembles sim/ modules; this one only drives it
    from paperexchange.venue import Venue

EXTERNAL_OWNER = "paper-external"
EXTERNAL_WALLET = "0x00000000000000000000000000000000000e7e7a"
_FLOAT = 10**15  # the external wallet's balances: it stands for a whole venue's traders

LevelKey = tuple[str, str, int]  # (condition id, YES-space side, YES price units)


class BookSource(Protocol):
    """What the external books follow: batches in order (a tape has them all; a live channel as they come,
    through `__aiter__` instead)."""

    def __iter__(self) -> Iterator[BookBatch]: ...


@dataclass(frozen=True, slots=True)
class Level:
    """The source's size at one price of one token's book (absolute, in shares)."""

    token_id: str
    side: str  # BUY (a bid) or SELL (an ask) in that token's own book
    price: str
    size: str


@dataclass(frozen=True, slots=True)
class Print:
    """A trade the source saw: `side` is the taker's, in that token's own book."""

    token_id: str
    side: str
    price: str
    size: str


@dataclass(slots=True)
class BookBatch:
    """Everything the source reported at one instant, applied as one step."""

    ts_ms: int
    snapshots: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    prints: list[Print] = field(default_factory=list)
    tick_sizes: dict[str, str] = field(default_factory=dict)  # token id -> new tick
    resolutions: dict[str, str] = field(default_factory=dict)  # condition id -> winning token


def _event_time(event: dict) -> int | None:
    try:
        return int(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _add_event(batch: BookBatch, event: dict) -> None:
    kind = event.get("event_type")
    if kind == "book":
        bids = [(str(level["price"]), str(level["size"])) for level in event.get("bids") or ()]
        asks = [(str(level["price"]), str(level["size"])) for level in event.get("asks") or ()]
        batch.snapshots[str(event["asset_id"])] = (bids, asks)
    elif kind == "price_change":
        for change in event.get("price_changes") or ():
            batch.levels.append(
                Level(str(change["asset_id"]), str(change["side"]), str(change["price"]), str(change["size"]))
            )
    elif kind == "last_trade_price":
        batch.prints.append(
            Print(str(event["asset_id"]), str(event["side"]), str(event["price"]), str(event["size"]))
        )
    elif kind == "tick_size_change":
        batch.tick_sizes[str(event["asset_id"])] = str(event["new_tick_size"])
    elif kind == "market_resolved":
        batch.resolutions[str(event["market"])] = str(event["winning_asset_id"])


def batches_from_frames(frames: Iterable[tuple[int | None, object]]) -> Iterator[BookBatch]:
    """Group market-channel events into batches of one timestamp (the event's own, else the frame's
    receive time), in arrival order. Events the model does not use (best_bid_ask, new_market) are skipped."""
    batch: BookBatch | None = None
    for received_ms, frame in frames:
        for event in frame if isinstance(frame, list) else [frame]:
            if not isinstance(event, dict):
                continue
            ts = _event_time(event) or received_ms
            if ts is None:
                continue
            if batch is None or ts != batch.ts_ms:
                if batch is not None:
                    yield batch
                batch = BookBatch(ts_ms=ts)
            _add_event(batch, event)
    if batch is not None:
        yield batch


def _yes_key(market: Market, token_id: str, side: str, price: str) -> LevelKey:
    """A level of either token as the YES-space level it is in the exchange's book."""
    units = parse_price(price)
    if market.is_yes(token_id):
        return market.condition_id, side, units
    return market.condition_id, SELL if side == BUY else BUY, 10_000 - units


class ExternalBooks:
    """Keeps the exchange's books equal to a source's, with our orders queued among the external size."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.exchange = exchange = venue.exchange
        self._source: dict[LevelKey, int] = {}  # what the source last said rests at each level
        self._depleted: dict[LevelKey, int] = {}  # external size we took that the source has not lost yet
        self._held_back: set[LevelKey] = set()  # levels whose size would cross our resting orders
        self._seq = 0
        exchange.ledger.credit(EXTERNAL_WALLET, "COLLATERAL", _FLOAT)
        exchange.on_trade.append(self._on_trade)

    # ---- applying a batch --------------------------------------------------------------------------------

    def apply(self, batch: BookBatch) -> None:
        for token_id, tick in batch.tick_sizes.items():
            market = self.exchange.markets.by_token(token_id)
            if market is not None and market.is_yes(token_id) and market.tick_size != tick:
                self.venue.change_tick_size(market, tick)
        for trade_print in batch.prints:
            self._print(trade_print)
        touched: dict[LevelKey, int] = {}
        for token_id, (bids, asks) in batch.snapshots.items():
            market = self.exchange.markets.by_token(token_id)
            if market is None or not market.is_yes(token_id):
                continue
            for key in [k for k in self._source if k[0] == market.condition_id]:
                touched[key] = 0
            for side, levels in ((BUY, bids), (SELL, asks)):
                for price, size in levels:
                    touched[_yes_key(market, token_id, side, price)] = int(float(size) * AMOUNT_SCALE)
        for level in batch.levels:
            market = self.exchange.markets.by_token(level.token_id)
            if market is None or not market.is_yes(level.token_id):
                continue
            touched[_yes_key(market, level.token_id, level.side, level.price)] = int(
                float(level.size) * AMOUNT_SCALE
            )
        for key, units in touched.items():
            old = self._source.get(key, 0)
            if units < old and key in self._depleted:
                self._depleted[key] = max(0, self._depleted[key] - (old - units))
            self._source[key] = units
        self._reconcile(set(touched) | self._held_back)
        for key in touched:  # a level the source emptied is forgotten (what it keeps is the live book)
            if not self._source.get(key) and not self._depleted.get(key) and key not in self._held_back:
                self._source.pop(key, None)
                self._depleted.pop(key, None)
        for condition_id, winner in batch.resolutions.items():
            market = self.exchange.markets.by_condition(condition_id)
            if market is not None and not market.closed and winner in market.token_ids:
                self.venue.resolve(market, winner)
                book = self.exchange.books[condition_id]
                for order in [o for o in book.orders() if o.owner == EXTERNAL_OWNER]:
                    book.remove(order)

    def _print(self, trade_print: Print) -> None:
        market = self.exchange.markets.by_token(trade_print.token_id)
        if market is None or not market.is_yes(trade_print.token_id) or market.closed:
            return
        taker = self._order(market, trade_print.side, parse_price(trade_print.price), trade_print.size, "FAK")
        book = self.exchange.books[market.condition_id]
        fills = plan_fills(book, taker) if book.crosses(taker) else []
        if fills:
            self.exchange.execute(taker, market, book, fills)

    def _reconcile(self, keys: set[LevelKey]) -> None:
        """Decreases first, then growth, so a level moving within the batch never crosses its old other side."""
        before: dict[str, dict] = {}
        ordered = sorted(keys, key=lambda k: (self._target(k) >= self._external_size(k), k))
        for key in ordered:
            self._reconcile_level(key, before.setdefault(key[0], {}))
        for condition_id, changed in before.items():
            market = self.exchange.markets.by_condition(condition_id)
            if market is not None and changed:
                self.exchange.announce_levels(market, changed)

    def _target(self, key: LevelKey) -> int:
        return max(0, self._source.get(key, 0) - self._depleted.get(key, 0))

    def _externals(self, key: LevelKey) -> list[Order]:
        condition_id, side, price = key
        book = self.exchange.books[condition_id]
        return [order for order in book.level_orders(side, price) if order.owner == EXTERNAL_OWNER]

    def _external_size(self, key: LevelKey) -> int:
        return sum(order.remaining for order in self._externals(key))

    def _reconcile_level(self, key: LevelKey, before: dict) -> None:
        condition_id, side, price = key
        book = self.exchange.books.get(condition_id)
        market = self.exchange.markets.by_condition(condition_id)
        if book is None or market is None:
            return
        target, current = self._target(key), self._external_size(key)
        if target == current:
            self._held_back.discard(key)
            return
        before.setdefault((side, price), book.level_size(side, price))
        if target < current:
            excess = current - target
            for order in reversed(self._externals(key)):
                cut = min(excess, order.remaining)
                book.shrink(order, cut)
                if order.remaining == 0:
                    order.status = "CANCELED"
                excess -= cut
                if excess == 0:
                    break
            self._held_back.discard(key)
            return
        if market.closed:
            return
        order = self._order(market, side, price, None, "GTC", size_units=target - current)
        if book.crosses(order):
            self._held_back.add(key)
            return
        self._held_back.discard(key)
        self.exchange.register(order)
        book.add(order)

    def _order(
        self,
        market: Market,
        side: str,
        price: int,
        size: str | None,
        order_type: str,
        size_units: int | None = None,
    ) -> Order:
        self._seq += 1
        units = size_units if size_units is not None else int(float(size or 0) * AMOUNT_SCALE)
        return Order(
            id=f"external-{self._seq}",
            condition_id=market.condition_id,
            token_id=market.token_ids[0],
            is_yes=True,
            side=side,
            price=price,
            original_size=units,
            owner=EXTERNAL_OWNER,
            maker=EXTERNAL_WALLET,
            signer=EXTERNAL_WALLET,
            order_type=order_type,
            created_at=int(self.exchange.clock.now()),
            internal=True,
        )

    def _on_trade(self, trade: Trade) -> None:
        """Our order took external size: remember it, so the source's next report does not bring it back."""
        if trade.taker.owner == EXTERNAL_OWNER:
            return
        for part in trade.parts:
            if part.order.owner == EXTERNAL_OWNER:
                key = (trade.market.condition_id, part.order.book_side, part.order.book_price)
                self._depleted[key] = self._depleted.get(key, 0) + part.size

    # ---- reading -----------------------------------------------------------------------------------------

    def best(self, condition_id: str) -> tuple[int | None, int | None]:
        """The source's own best bid and ask (YES price units) of a market: without our orders."""
        bids = [k[2] for k, size in self._source.items() if k[0] == condition_id and k[1] == BUY and size > 0]
        asks = [
            k[2] for k, size in self._source.items() if k[0] == condition_id and k[1] == SELL and size > 0
        ]
        return (max(bids) if bids else None), (min(asks) if asks else None)

    def queue_ahead(self, order: Order) -> int:
        """External size ahead of one of our resting orders at its level (0 when it is first)."""
        book = self.exchange.books[order.condition_id]
        ahead = 0
        for resting in book.level_orders(order.book_side, order.book_price):
            if resting is order:
                return ahead
            if resting.owner == EXTERNAL_OWNER:
                ahead += resting.remaining
        return ahead
