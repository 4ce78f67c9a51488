"""Per-token L2 order books rebuilt from the market channel, and the BookSet that routes frames to them.

Pure and synchronous: no I/O and no logging; every outcome is returned as plain data and counted.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from shared.polymarket.book_hash import BookHasher, level_json
from shared.polymarket.schemas import (
    BestBidAskMessage,
    BookMessage,
    BookSummary,
    LastTradePriceMessage,
    Level,
    MarketFrameError,
    MarketResolvedMessage,
    PriceChangeEntry,
    PriceChangeMessage,
    TickSizeChangeMessage,
    decode_market_frame,
)

PRICE_DECIMALS = 8
ONE = 10**PRICE_DECIMALS  # price units of 1.00
_POW = [10 ** (PRICE_DECIMALS - n) for n in range(PRICE_DECIMALS + 1)]
PriceLevel = tuple[str, str]  # (price, size) as the venue's decimal strings


_UNITS: dict[str, int] = {}  # a market uses few distinct price spellings: parse each once


def price_units(text: str) -> int:
    """Exact integer price in units of 1e-8 from a decimal string; ValueError beyond 8 decimals."""
    units = _UNITS.get(text)
    if units is None:
        whole, _, frac = text.partition(".")
        if len(frac) > PRICE_DECIMALS:
            raise ValueError(f"price {text!r} has more than {PRICE_DECIMALS} decimals")
        units = (int(whole) if whole else 0) * ONE + (int(frac) * _POW[len(frac)] if frac else 0)
        if len(_UNITS) > 100_000:
            _UNITS.clear()
        _UNITS[text] = units
    return units


def _is_zero(size: str) -> bool:
    return not size.strip("0.")


# TopOfBook, LevelChange and DeltasApplied are made for every change: named tuples, built in less than
# half the time of frozen dataclasses. The price_change path builds them with _tuple(cls, (fields...)):
# tuple.__new__ itself, without the Python-level __new__ a named tuple's call goes through (a sixth of the
# cost: 0.5k against 3k instructions each, six of them a two-token frame).
_tuple = tuple.__new__


class TopOfBook(NamedTuple):
    bid: str | None
    bid_size: str | None
    ask: str | None
    ask_size: str | None


class LevelChange(NamedTuple):
    side: str  # "bid" | "ask"
    price: str
    size: str  # new total at that price; "0" = level removed


@dataclass(frozen=True, slots=True)
class SnapshotApplied:
    asset_id: str
    market: str
    epoch: int
    timestamp: str
    tick_size: str | None
    bids: tuple[PriceLevel, ...]  # best first
    asks: tuple[PriceLevel, ...]  # best first
    top: TopOfBook
    hash_ok: bool | None  # None: the venue gave no hash or its inputs (tick, last trade) are unknown
    # The levels a synced book already had: the venue's `book` frame after a trade repeats what its
    # price_change said. Checked, and no news for consumers (ingest publishes no BookSnapshot for it).
    repeated: bool = False


class DeltasApplied(NamedTuple):
    asset_id: str
    market: str
    epoch: int
    timestamp: str
    changes: tuple[LevelChange, ...]
    top: TopOfBook
    top_changed: bool


@dataclass(frozen=True, slots=True)
class NeedsResync:
    asset_id: str
    market: str
    reason: str  # hash_mismatch | best_bid_ask_mismatch | crossed | tick_size_change


@dataclass(frozen=True, slots=True)
class UnknownAsset:
    asset_id: str
    event_type: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str
    raw: object  # the raw frame, for the dead-letter stream


Outcome = SnapshotApplied | DeltasApplied | NeedsResync | UnknownAsset | Malformed

COUNTERS = (
    "frames",
    "messages",
    "malformed",
    "snapshots",
    "diffs",
    "unknown_asset",
    "ignored_awaiting_snapshot",
    "best_checked",
    "best_mismatch",
    "hash_checked",
    "hash_mismatch",
    "hash_skipped",
    "hash_implied",  # an entry's hash after its token's first hashed entry of the frame: covered by that check
    "crossed",
    "resyncs",
    "tick_size_changes",
    "mirror_mismatch",
    "best_bid_ask_event_mismatch",
    "snapshots_unchanged",
)


class _Side:
    """One side of a book: price units -> (price text, size text), the units kept sorted ascending, and each
    level's JSON text for the venue's hash kept in wire order beside them, so a hash joins them in one call."""

    __slots__ = ("descending", "joined", "keys", "levels", "texts")

    def __init__(self, *, descending: bool) -> None:
        self.descending = descending  # wire order: bids ascending, asks descending (best level last)
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []
        self.texts: list[str] = []  # level_json of keys[i] at i (bids) or at len - 1 - i (asks)
        # wire_json's text until the side changes: a change touches one side, and every hash joins both.
        self.joined: str | None = None

    def load(self, levels: Iterable[Level]) -> None:
        self.levels = {price_units(level.price): (level.price, level.size) for level in levels}
        self.keys = sorted(self.levels)
        self.texts = [level_json(*self.levels[key]) for key in self.keys]
        if self.descending:
            self.texts.reverse()
        self.joined = None

    def set(self, key: int, price: str, size: str) -> None:
        self.joined = None
        old = self.levels.get(key)
        if _is_zero(size):
            if old is not None:
                at = bisect_left(self.keys, key)
                del self.texts[self._text_at(at)]  # before keys shrinks: the index counts from its end
                del self.levels[key], self.keys[at]
            return
        if old is not None:  # keep the level's first price text: the venue hashes its own spelling of it
            price = old[0]
        text = level_json(price, size)
        self.levels[key] = (price, size)
        at = bisect_left(self.keys, key)
        if old is None:
            self.keys.insert(at, key)
            self.texts.insert(len(self.keys) - 1 - at if self.descending else at, text)
        else:
            self.texts[self._text_at(at)] = text

    def _text_at(self, at: int) -> int:
        return len(self.keys) - 1 - at if self.descending else at

    def wire_json(self) -> str:
        """The side's levels as the hash's JSON array body, in wire order."""
        joined = self.joined
        if joined is None:
            joined = self.joined = ",".join(self.texts)
        return joined

    def ascending(self) -> list[PriceLevel]:
        levels = self.levels
        return [levels[key] for key in self.keys]


class OrderBook:
    """The book of one token. `live` is False while dropped (awaiting a snapshot); `synced` is False
    once a check failed, until the next snapshot (levels keep applying so a replay can show them)."""

    __slots__ = (
        "_countdown",
        "asks",
        "asset_id",
        "bids",
        "epoch",
        "hash_checks",
        "hash_failures",
        "hasher",
        "last_trade_price",
        "last_update",
        "live",
        "market",
        "min_order_size",
        "neg_risk",
        "recipe_ok",
        "synced",
        "synced_reason",
        "tick_size",
    )

    def __init__(
        self,
        asset_id: str,
        market: str,
        *,
        tick_size: str | None = None,
        neg_risk: bool | None = None,
        now: float = 0.0,
    ) -> None:
        self.asset_id, self.market = asset_id, market
        self.hasher = BookHasher(market, asset_id)
        self.bids, self.asks = _Side(descending=False), _Side(descending=True)
        self.tick_size, self.neg_risk = tick_size, neg_risk
        self.min_order_size = "5"  # not on the wire; the venue hashes "5"
        self.last_trade_price: str | None = None
        self.live = self.synced = self.recipe_ok = False
        self.epoch, self.last_update = 0, now
        self.hash_checks = self.hash_failures = self._countdown = 0
        self.synced_reason = ""

    def load(self, snap: BookSummary, now: float) -> None:
        self.bids.load(snap.bids)
        self.asks.load(snap.asks)
        self.tick_size = snap.tick_size or self.tick_size
        self.neg_risk = self.neg_risk if snap.neg_risk is None else snap.neg_risk
        self.min_order_size = snap.min_order_size or self.min_order_size
        self.last_trade_price = snap.last_trade_price or self.last_trade_price
        self.live = self.synced = True
        self.last_update = now

    def drop(self, tick_size: str | None) -> None:
        """Start a new epoch: levels gone until a fresh snapshot arrives."""
        self.bids, self.asks = _Side(descending=False), _Side(descending=True)
        self.tick_size = tick_size or self.tick_size
        self.live = self.synced = self.recipe_ok = False
        self.epoch += 1

    def wire_bids(self) -> list[PriceLevel]:
        return self.bids.ascending()

    def wire_asks(self) -> list[PriceLevel]:
        return self.asks.ascending()[::-1]

    def best_bids(self) -> list[PriceLevel]:
        return self.bids.ascending()[::-1]

    def best_asks(self) -> list[PriceLevel]:
        return self.asks.ascending()

    def top(self) -> TopOfBook:
        bid, ask = self.top_levels()
        return TopOfBook(*(bid or (None, None)), *(ask or (None, None)))

    def top_levels(self) -> tuple[PriceLevel | None, PriceLevel | None]:
        """(best bid, best ask) as (price, size) texts, None for an empty side: cheap to compare."""
        bids, asks = self.bids, self.asks
        return (
            bids.levels[bids.keys[-1]] if bids.keys else None,
            asks.levels[asks.keys[0]] if asks.keys else None,
        )

    def top_units(self) -> tuple[int, int]:
        """(best bid, best ask) in price units; empty sides read 0 and 1 as the venue reports them."""
        return (self.bids.keys[-1] if self.bids.keys else 0, self.asks.keys[0] if self.asks.keys else ONE)

    def crossed(self) -> bool:
        return bool(self.bids.keys and self.asks.keys and self.bids.keys[-1] >= self.asks.keys[0])

    def hash_for(self, timestamp: str, last_trade_price: str | None, neg_risk: bool) -> str:
        return self.hasher.hash(
            timestamp,
            self.bids.wire_json(),
            self.asks.wire_json(),
            self.tick_size or "",
            neg_risk,
            last_trade_price,
            self.min_order_size,
        )

    def check_hash(
        self, expected: str, timestamp: str, trade_prices: Callable[[], Iterable[str]] = tuple
    ) -> bool | None:
        """True/False when the venue's hash can be recomputed, None when the tick (or the recipe) is unknown.

        Since Dec 2025 the hash covers the market's last trade price, the SAME value for both tokens (the
        hash-verified sequence in ../shared/fixtures/SHAPES.md [A]), which a fill moves possibly before
        its last_trade_price event arrives (and in 3-decimal form, "0.490"); on a mismatch the given trade
        prices (this message's, the other token's; asked for only then) are tried too, and an unknown neg_risk
        flag is learnt.
        A match adopts the inputs that produced it. A book whose frames carry no last trade price (before
        Dec 2025) is checked with the older recipe, which leaves it out.
        """
        if self.tick_size is None:
            return None
        if self.last_trade_price is None:
            return self._check_older_recipe(expected, timestamp)
        self.hash_checks += 1
        neg = bool(self.neg_risk)
        if self.hash_for(timestamp, self.last_trade_price, neg) == expected:
            return True
        negs = (neg,) if self.neg_risk is not None else (False, True)
        for ltp in _trade_price_forms((self.last_trade_price, *trade_prices())):
            for neg in negs:
                if self.hash_for(timestamp, ltp, neg) == expected:
                    self.last_trade_price, self.neg_risk = ltp, neg
                    return True
        self.hash_failures += 1
        return False

    def _check_older_recipe(self, expected: str, timestamp: str) -> bool | None:
        """The Oct 2025 recipe (no last_trade_price key). A snapshot that does not reproduce it is of an
        unknown recipe (None); a delta after a snapshot that did is a mismatch (False)."""
        negs = (bool(self.neg_risk),) if self.neg_risk is not None else (False, True)
        for neg in negs:
            if self.hash_for(timestamp, None, neg) == expected:
                self.hash_checks += 1
                self.neg_risk = neg
                return True
        if not self.recipe_ok:
            return None
        self.hash_checks += 1
        self.hash_failures += 1
        return False

    @property
    def hash_ok(self) -> bool | None:
        return None if not self.hash_checks else self.hash_failures == 0


def _trade_price_forms(prices: Iterable[str]) -> list[str]:
    forms: list[str] = []
    for price in prices:
        whole, _, frac = price.partition(".")
        for form in (price, f"{whole or '0'}.{frac.ljust(3, '0')}"):
            if form not in forms:
                forms.append(form)
    return forms


class _Touched:
    """A token's part of one price_change frame: its changes, its top before them, whether it was checked."""

    __slots__ = ("book", "changes", "hash_checked", "top_before", "was_synced")

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.changes: list[LevelChange] = []
        self.top_before, self.was_synced = book.top_levels(), book.synced
        self.hash_checked = False


class BookSet:
    """Routes decoded market-channel messages to per-token books and reports outcomes as data.

    `clock` is injectable for staleness; `hash_check_every=N` checks one in N of a token's hashed
    changes (each check covers the whole book, so a desync is still caught within N changes);
    `check_best` compares every change's best_bid/best_ask with the rebuilt top.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        auto_track: bool = True,
        check_best: bool = True,
        hash_check_every: int = 1,
    ) -> None:
        self.books: dict[str, OrderBook] = {}
        self.markets: dict[str, list[str]] = {}
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._clock, self._auto_track = clock, auto_track
        self._check_best, self._hash_every = check_best, max(1, hash_check_every)
        # Keyed by message type; each handler takes exactly that type (Any: the map cannot say so per key).
        self._handlers: dict[type, Callable[[Any], list[Outcome]]] = {
            PriceChangeMessage: self._price_change, BookMessage: self.apply_snapshot,
            TickSizeChangeMessage: self._tick_size_change, LastTradePriceMessage: self._last_trade,
            BestBidAskMessage: self._best_bid_ask, MarketResolvedMessage: self._resolved,
        }  # fmt: skip

    def track(
        self, asset_id: str, market: str, *, tick_size: str | None = None, neg_risk: bool | None = None
    ) -> OrderBook:
        """Start keeping a book for a token (awaiting its snapshot); returns the book."""
        book = self.books.get(asset_id)
        if book is None:
            book = self.books[asset_id] = OrderBook(
                asset_id, market, tick_size=tick_size, neg_risk=neg_risk, now=self._clock()
            )
            self.markets.setdefault(market, []).append(asset_id)
        return book

    def feed(self, raw: bytes | str) -> list[Outcome]:
        """Decode one frame and apply it; a malformed frame yields Malformed and changes nothing."""
        self.counters["frames"] += 1
        try:
            messages = decode_market_frame(raw)
        except MarketFrameError as error:
            self.counters["malformed"] += 1
            return [Malformed(error.reason, raw)]
        outcomes: list[Outcome] = []
        for message in messages:
            outcomes += self.apply(message)
        return outcomes

    def apply(self, message: object) -> list[Outcome]:
        self.counters["messages"] += 1
        handler = self._handlers.get(type(message))
        return handler(message) if handler else []

    def apply_snapshot(self, snap: BookSummary) -> list[Outcome]:
        """Replace a token's book with a WS `book` or a REST /book response (the resync path)."""
        book = self.books.get(snap.asset_id)
        if book is None:
            if not self._auto_track:
                self.counters["unknown_asset"] += 1
                return [UnknownAsset(snap.asset_id, "book")]
            book = self.track(snap.asset_id, snap.market)
        # The venue follows a trade with a `book` frame (docs: "after a trade changes the book"); on a synced
        # book it repeats what the price_change already said. Such a frame is checked but announces nothing.
        before = (book.wire_bids(), book.wire_asks()) if book.live and book.synced else None
        try:
            book.load(snap, self._clock())
        except ValueError as error:
            self.counters["malformed"] += 1
            return [Malformed(str(error), snap)]
        self.counters["snapshots"] += 1
        verdict = (
            book.check_hash(snap.hash, snap.timestamp, lambda: self._market_trade_prices(book))
            if snap.hash
            else None
        )
        # A snapshot that does not reproduce its own hash means the recipe inputs are unknown or wrong:
        # checking its deltas' hashes would only raise false alarms.
        book.recipe_ok = verdict is True
        self._count_hash(verdict)
        repeated = before == (book.wire_bids(), book.wire_asks()) and verdict is not False
        self.counters["snapshots_unchanged"] += repeated
        outcomes: list[Outcome] = [
            SnapshotApplied(
                book.asset_id,
                book.market,
                book.epoch,
                snap.timestamp,
                book.tick_size,
                tuple(book.best_bids()),
                tuple(book.best_asks()),
                book.top(),
                verdict,
                repeated,
            )
        ]
        if book.crossed():
            self.counters["crossed"] += 1
            outcomes.append(self._desync(book, "crossed"))
        return outcomes

    def stale(self, max_age_s: float, now: float | None = None) -> list[str]:
        """Tokens whose book has not been updated for more than max_age_s (by the injected clock)."""
        now = self._clock() if now is None else now
        return [asset for asset, book in self.books.items() if now - book.last_update > max_age_s]

    def _price_change(self, msg: PriceChangeMessage) -> list[Outcome]:
        counters, books, entries = self.counters, self.books, msg.price_changes
        try:  # whole frame first, so both tokens of the market move together or not at all
            keys = [
                (
                    price_units(e.price),
                    None
                    if e.best_bid is None or e.best_ask is None
                    else (price_units(e.best_bid), price_units(e.best_ask)),
                )
                for e in entries
            ]
        except ValueError as error:
            counters["malformed"] += 1
            return [Malformed(str(error), msg)]
        outcomes: list[Outcome] = []
        touched: dict[str, _Touched] = {}
        diffs = 0
        for entry, (key, best) in zip(entries, keys):
            book = books.get(entry.asset_id)
            if book is None:
                counters["unknown_asset"] += 1
                outcomes.append(UnknownAsset(entry.asset_id, "price_change"))
                continue
            if not book.live:
                counters["ignored_awaiting_snapshot"] += 1
                continue
            state = touched.get(entry.asset_id)
            if state is None:
                state = touched[entry.asset_id] = _Touched(book)
            if entry.side == "BUY":
                book.bids.set(key, entry.price, entry.size)
                state.changes.append(_tuple(LevelChange, ("bid", entry.price, entry.size)))
            else:
                book.asks.set(key, entry.price, entry.size)
                state.changes.append(_tuple(LevelChange, ("ask", entry.price, entry.size)))
            diffs += 1
            if book.synced:
                self._check_entry(state, entry, best, msg)
        counters["diffs"] += diffs
        now = self._clock()
        for state in touched.values():
            outcome = self._close(state, msg.timestamp, now)
            if outcome is not None:
                outcomes.append(outcome)
        if len(touched) == 2:
            self._check_mirror(*(state.book for state in touched.values()))
        return outcomes

    def _market_trade_prices(self, book: OrderBook) -> list[str]:
        """The last trade prices the market's other tokens know (the hash uses one value per market)."""
        return [
            other.last_trade_price
            for asset in self.markets.get(book.market, ())
            if asset != book.asset_id and (other := self.books[asset]).last_trade_price is not None
        ]

    def _trade_prices(self, book: OrderBook, entry: PriceChangeEntry, msg: PriceChangeMessage) -> list[str]:
        """The last trade prices a price_change entry's hash may have used, tried only after a mismatch.

        An order that sweeps several levels moves the last trade price to its last fill before the venue
        hashes any of the entries: every price this message touches on the token may be that price. The
        hash's last trade price is one value for the market: the other token's prices are candidates too."""
        own = [e.price for e in msg.price_changes if e.asset_id == book.asset_id]
        return [entry.price, *own, *(e.price for e in msg.price_changes), *self._market_trade_prices(book)]

    def _check_entry(
        self, state: _Touched, entry: PriceChangeEntry, best: tuple[int, int] | None, msg: PriceChangeMessage
    ) -> None:
        """Check one applied entry: its best bid/ask against the rebuilt top, and the venue's hash of the
        token's book after it, for the token's FIRST hashed entry of the frame only.

        Each later entry of the frame sets a level of that same book, which can only repair a difference,
        never make one (both sides apply the same entry to the same level): if the book after the first
        hashed entry equals the venue's, so does the book after every later one, and if it differs, checking
        each step would have refused the frame at that entry already. So one hash per token per frame accepts
        and refuses exactly the frames that checking every entry's hash does (tests/ingest/
        test_frame_hash_equivalence.py); the state the frame ends in would not: a frame that rewrites the
        only wrong level ends right and would hide the missed update.
        """
        book = state.book
        if self._check_best and best is not None:
            self.counters["best_checked"] += 1
            if book.top_units() != best:
                self.counters["best_mismatch"] += 1
                self._desync(book, "best_bid_ask_mismatch")
                return
        if entry.hash is None:
            return
        if state.hash_checked:
            self.counters["hash_implied"] += 1
            return
        state.hash_checked = True
        book._countdown -= 1
        if not book.recipe_ok or book._countdown > 0:
            self.counters["hash_skipped"] += 1
            return
        book._countdown = self._hash_every
        verdict = book.check_hash(entry.hash, msg.timestamp, lambda: self._trade_prices(book, entry, msg))
        self._count_hash(verdict)
        if verdict is False:
            self._desync(book, "hash_mismatch")

    def _close(self, state: _Touched, timestamp: str, now: float) -> Outcome | None:
        book = state.book
        book.last_update = now
        if book.synced and book.crossed():
            self.counters["crossed"] += 1
            self._desync(book, "crossed")
        if book.synced:
            top = book.top_levels()  # sizes included: a size change at the best level is a top change
            bid, ask = top
            levels = (*(bid or (None, None)), *(ask or (None, None)))
            return _tuple(
                DeltasApplied,
                (
                    book.asset_id,
                    book.market,
                    book.epoch,
                    timestamp,
                    tuple(state.changes),
                    _tuple(TopOfBook, levels),
                    top != state.top_before,
                ),
            )
        # Asked once, when the book leaves sync; later deltas to it are applied but not reported.
        return NeedsResync(book.asset_id, book.market, book.synced_reason) if state.was_synced else None

    def _check_mirror(self, a: OrderBook, b: OrderBook) -> None:
        # One order shows on both tokens (a bid at p is an ask at 1-p on the complement), so two synced
        # books of one market must mirror at the top. Counted only: the venue does not promise it.
        if (
            a.market == b.market
            and a.synced
            and b.synced
            and a.bids.keys
            and b.asks.keys
            and a.bids.keys[-1] + b.asks.keys[0] != ONE
        ):
            self.counters["mirror_mismatch"] += 1

    def _desync(self, book: OrderBook, reason: str) -> NeedsResync:
        if book.synced:
            self.counters["resyncs"] += 1
        book.synced = False
        book.synced_reason = reason
        return NeedsResync(book.asset_id, book.market, reason)

    def _count_hash(self, verdict: bool | None) -> None:
        if verdict is not None:
            self.counters["hash_checked"] += 1
            self.counters["hash_mismatch"] += verdict is False

    def _tick_size_change(self, msg: TickSizeChangeMessage) -> list[Outcome]:
        # The tick is a property of the market: both tokens start a new epoch together.
        self.counters["tick_size_changes"] += 1
        market = msg.market if msg.market in self.markets else None
        if market is None and msg.asset_id in self.books:
            market = self.books[msg.asset_id].market
        if market is None:
            self.counters["unknown_asset"] += 1
            return [UnknownAsset(msg.asset_id, "tick_size_change")]
        outcomes: list[Outcome] = []
        for asset in self.markets[market]:
            book = self.books[asset]
            was_live = book.live
            book.drop(msg.new_tick_size)
            if was_live:
                self.counters["resyncs"] += 1
                outcomes.append(NeedsResync(asset, market, "tick_size_change"))
        return outcomes

    def _last_trade(self, msg: LastTradePriceMessage) -> list[Outcome]:
        book = self.books.get(msg.asset_id)
        if book is not None:
            book.last_trade_price = msg.price
        return []

    def _best_bid_ask(self, msg: BestBidAskMessage) -> list[Outcome]:
        book = self.books.get(msg.asset_id)
        if book is not None and book.synced:
            try:
                venue = (price_units(msg.best_bid), price_units(msg.best_ask))
            except ValueError:
                venue = None
            if book.top_units() != venue:
                self.counters["best_bid_ask_event_mismatch"] += 1
        return []

    def _resolved(self, msg: MarketResolvedMessage) -> list[Outcome]:
        for asset in self.markets.get(msg.market, ()):
            self.books[asset].drop(None)
        return []
