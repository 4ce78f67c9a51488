"""Per-market state of a strategy worker: books, market rules, own orders and inventory, and the apply functions.

Pure data plus functions that fold bus messages into it; no I/O. Books are valid only from a snapshot of
the current epoch on (a delta without one, or of another epoch, is ignored: ingest resyncs with a snapshot)
and until ingest reports the book not valid (BookStatus: stale, resyncing, gap); a VALID status brings back
only the book of the epoch it names.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import pstdev

from shared.ledger import Ledger, MemoryLedgerStore, order_is_open
from shared.messages import (
    BookDelta,
    BookSnapshot,
    BookState,
    BookStatus,
    Fill,
    LastTrade,
    MarketDiscovered,
    MarketInfo,
    MarketResolved,
    MarketUpdated,
    Message,
    OrderUpdate,
    PositionRedeemed,
    PriceLevel,
    Side,
    TickSizeChanged,
    TradeSeen,
)

DEFAULT_TICK = Decimal("0.01")
DEFAULT_MIN_SIZE = Decimal(5)
MID_HISTORY = 64  # mids kept per token for the volatility estimate


@dataclass
class Book:
    """One token's book: price -> size per side."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    epoch: int = 0
    valid: bool = False
    # Venue time of the frame that last changed this book: a market's two books agree when they were last
    # changed by the same frame (the venue sends both tokens' changes together; a resync fetches them apart).
    as_of_ns: int = 0
    snapshot_epoch: int | None = None  # the epoch of the last snapshot applied
    halted_reason: str = ""  # why ingest last reported this book not valid

    def levels(self, side: Side) -> list[PriceLevel]:
        """Best first: bids high to low (side BUY), asks low to high (side SELL)."""
        book = self.bids if side is Side.BUY else self.asks
        prices = sorted(book, reverse=side is Side.BUY)
        return [PriceLevel(price=p, size=book[p]) for p in prices]

    def best_bid(self) -> PriceLevel | None:
        return _best(self.bids, highest=True) if self.valid else None

    def best_ask(self) -> PriceLevel | None:
        return _best(self.asks, highest=False) if self.valid else None

    def mid(self) -> Decimal | None:
        # Recorded on every change of the book: the best prices alone, without building their levels.
        if not self.valid or not self.bids or not self.asks:
            return None
        return (max(self.bids) + min(self.asks)) / 2


def _best(levels: dict[Decimal, Decimal], *, highest: bool) -> PriceLevel | None:
    if not levels:
        return None
    price = max(levels) if highest else min(levels)
    return PriceLevel(price=price, size=levels[price])


@dataclass
class Market:
    condition_id: str
    info: MarketInfo | None = None
    books: dict[str, Book] = field(default_factory=dict)
    tick_size: Decimal = DEFAULT_TICK
    min_size: Decimal = DEFAULT_MIN_SIZE
    neg_risk: bool = False
    resolved: bool = False
    # token_ids of the info they were read from (strategies ask on every book change; an info is frozen)
    _tokens: tuple[MarketInfo | None, tuple[str, ...]] = field(default=(None, ()), repr=False, compare=False)

    @property
    def token_ids(self) -> tuple[str, ...]:
        """The market's tokens in venue order (YES first for a binary market), once known."""
        info = self.info
        if info is None:
            return tuple(self.books)
        if self._tokens[0] is not info:
            self._tokens = (info, tuple(t.token_id for t in info.tokens))
        return self._tokens[1]

    @property
    def tradable(self) -> bool:
        info = self.info
        return not self.resolved and (
            info is None or (info.active and not info.closed and info.accepting_orders)
        )

    def book(self, token_id: str) -> Book:
        return self.books.setdefault(token_id, Book())

    def complement(self, token_id: str) -> str | None:
        """The other token of a binary market."""
        tokens = self.token_ids
        if len(tokens) != 2 or token_id not in tokens:
            return None
        return tokens[1] if tokens[0] == token_id else tokens[0]


@dataclass
class Portfolio:
    """Own inventory (the shared ledger, in memory, from the fills stream) and own open orders."""

    ledger: Ledger = field(default_factory=lambda: Ledger(MemoryLedgerStore()))
    open_orders: dict[str, OrderUpdate] = field(default_factory=dict)  # client order id (or venue id) -> last

    def position(self, token_id: str) -> Decimal:
        """Shares held, settled and provisional (what the position will be if nothing fails)."""
        return self.ledger.position(token_id).size

    def settled(self, token_id: str) -> Decimal:
        """Shares on chain: the only ones that can be sold."""
        return self.ledger.position(token_id).settled

    def provisional(self, token_id: str) -> Decimal:
        """Shares of MATCHED trades not settled yet (negative for a pending sell)."""
        return self.ledger.position(token_id).provisional

    def open_size(self, token_id: str, side: Side) -> Decimal:
        """Shares still open in own orders on one side of a token."""
        return sum(
            (
                o.original_size - o.size_matched
                for o in self.open_orders.values()
                if o.token_id == token_id and o.side is side
            ),
            Decimal(0),
        )


@dataclass
class WorldState:
    """Everything one worker knows: its markets, its portfolio, and each strategy's memory."""

    markets: dict[str, Market] = field(default_factory=dict)
    token_market: dict[str, str] = field(default_factory=dict)
    neg_risk_groups: dict[str, set[str]] = field(default_factory=dict)  # neg-risk market id -> condition ids
    portfolio: Portfolio = field(default_factory=Portfolio)
    mids: dict[str, deque[Decimal]] = field(default_factory=dict)
    memory: dict[str, dict[str, object]] = field(default_factory=dict)  # strategy name -> its own memory

    def market(self, condition_id: str) -> Market:
        market = self.markets.get(condition_id)
        if market is None:
            market = self.markets[condition_id] = Market(condition_id)
        return market

    def market_of_token(self, token_id: str) -> Market | None:
        condition_id = self.token_market.get(token_id)
        return None if condition_id is None else self.markets.get(condition_id)

    def strategy_memory(self, name: str) -> dict[str, object]:
        return self.memory.setdefault(name, {})

    def volatility(self, token_id: str) -> Decimal | None:
        """The standard deviation of successive mid changes seen for a token (None below 3 mids)."""
        mids = self.mids.get(token_id)
        if mids is None or len(mids) < 3:
            return None
        steps = [float(b - a) for a, b in zip(list(mids)[:-1], list(mids)[1:], strict=True)]
        return Decimal(str(pstdev(steps)))


def event_market(message: Message) -> str | None:
    """The condition id a market event concerns (None for events about no single market)."""
    if isinstance(message, MarketDiscovered | MarketUpdated):
        return message.market.condition_id
    if isinstance(message, MarketResolved):
        return message.condition_id
    if isinstance(message, BookSnapshot | BookDelta | LastTrade | TradeSeen | TickSizeChanged):
        return message.market
    return None


def apply_event(state: WorldState, message: Message) -> None:
    """Fold one `events:<shard>` message into the state (unknown kinds change nothing)."""
    if isinstance(message, BookDelta):  # first: nearly every event is one
        _apply_delta(state, message)
    elif isinstance(message, MarketDiscovered | MarketUpdated):
        _apply_info(state, message.market)
    elif isinstance(message, MarketResolved):
        _apply_resolution(state, message)
    elif isinstance(message, BookSnapshot):
        _apply_snapshot(state, message)
    elif isinstance(message, TickSizeChanged):
        market = state.market(message.market)
        market.tick_size = message.new_tick_size
        # The venue clears the book on a tick change; ingest follows with a snapshot of a new epoch.
        for book in market.books.values():
            book.valid = False
    elif isinstance(message, BookStatus):
        _apply_status(state, message)


def _apply_status(state: WorldState, status: BookStatus) -> None:
    book = state.market(status.market).book(status.token_id)
    state.token_market[status.token_id] = status.market
    if status.state is not BookState.VALID:
        book.valid = False
        book.halted_reason = f"{status.state.value}: {status.reason}"
    elif book.snapshot_epoch == status.epoch:  # ingest checked the book we hold (a probe, a resync)
        book.valid = True
        book.halted_reason = ""


def _apply_info(state: WorldState, info: MarketInfo) -> None:
    market = state.market(info.condition_id)
    market.info = info
    market.tick_size = info.tick_size
    market.min_size = info.min_order_size
    market.neg_risk = info.neg_risk
    if info.closed:
        market.resolved = True
    for token in info.tokens:
        state.token_market[token.token_id] = info.condition_id
    if info.neg_risk and info.neg_risk_market_id:
        state.neg_risk_groups.setdefault(info.neg_risk_market_id, set()).add(info.condition_id)


def _apply_snapshot(state: WorldState, snapshot: BookSnapshot) -> None:
    market = state.market(snapshot.market)
    state.token_market[snapshot.token_id] = snapshot.market
    market.tick_size = snapshot.tick_size
    if snapshot.min_order_size is not None:
        market.min_size = snapshot.min_order_size
    market.neg_risk = market.neg_risk or snapshot.neg_risk
    book = market.book(snapshot.token_id)
    book.bids = {level.price: level.size for level in snapshot.bids if level.size > 0}
    book.asks = {level.price: level.size for level in snapshot.asks if level.size > 0}
    book.epoch, book.valid = snapshot.epoch, True
    book.snapshot_epoch, book.halted_reason = snapshot.epoch, ""
    book.as_of_ns = snapshot.envelope.source_ts_ns
    _record_mid(state, snapshot.token_id, book)


def _apply_delta(state: WorldState, delta: BookDelta) -> None:
    market = state.market(delta.market)
    touched: set[str] = set()
    for change in delta.changes:
        book = market.books.get(change.token_id)
        if book is None or not book.valid:
            continue
        if book.epoch != delta.epoch:
            # A delta of a newer epoch means a resync we have not seen the snapshot of yet.
            book.valid = book.valid and delta.epoch < book.epoch
            continue
        levels = book.bids if change.side is Side.BUY else book.asks
        if change.size > 0:
            levels[change.price] = change.size
        else:
            levels.pop(change.price, None)
        touched.add(change.token_id)
    for token_id in touched:
        market.books[token_id].as_of_ns = delta.envelope.source_ts_ns
        _record_mid(state, token_id, market.books[token_id])


def _record_mid(state: WorldState, token_id: str, book: Book) -> None:
    mid = book.mid()
    if mid is None:
        return
    mids = state.mids.get(token_id)
    if mids is None:
        mids = state.mids[token_id] = deque(maxlen=MID_HISTORY)
    if not mids or mids[-1] != mid:
        mids.append(mid)


def _apply_resolution(state: WorldState, resolved: MarketResolved) -> None:
    """The market is closed; held tokens are worth their payout (winner 1, others 0) in the ledger."""
    market = state.market(resolved.condition_id)
    market.resolved = True
    winner = resolved.winning_token_id
    if winner is None and resolved.winning_outcome and market.info is not None:
        winner = next(
            (t.token_id for t in market.info.tokens if t.outcome.lower() == resolved.winning_outcome.lower()),
            None,
        )
    if winner is not None and market.token_ids:
        state.portfolio.ledger.resolve(resolved.condition_id, market.token_ids, winner)


def apply_fill(portfolio: Portfolio, fill: Fill) -> None:
    """One status of one own order's part of a trade, by the shared ledger's rules (the same as risk's)."""
    portfolio.ledger.apply_fill(fill)


def apply_redemption(portfolio: Portfolio, redeemed: PositionRedeemed) -> None:
    portfolio.ledger.redeem(redeemed)


def apply_order_update(portfolio: Portfolio, update: OrderUpdate) -> None:
    """Keep the last view of each open order; a closed one leaves the set (open: shared.ledger.order_is_open)."""
    key = update.client_order_id or update.order_id
    if key is None:
        return
    if order_is_open(update.status, update.original_size, update.size_matched):
        portfolio.open_orders[key] = update
    else:
        portfolio.open_orders.pop(key, None)
