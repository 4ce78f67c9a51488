"""The venue's state and its two verbs: post an order (validate funds, match, rest) and cancel orders.

Every change is announced through an EventSink: market-channel frames (price_change, last_trade_price,
best_bid_ask) and user-channel frames (order, trade), so the WebSocket layer never reads state itself.
"""

from __future__ import annotations

import heapq
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from paperexchange.core import bookview, errors, wire
from paperexchange.core.auth import KeyStore
from paperexchange.core.clock import Clock
from paperexchange.core.config import Settings
from paperexchange.core.engine import BUY, SELL, Book, Fill, Order, fully_filled, plan_fills
from paperexchange.core.errors import VenueError
from paperexchange.core.funds import check_funds, consume_allowances, set_reservation
from paperexchange.core.ledger import Ledger
from paperexchange.core.markets import Market, MarketRegistry
from paperexchange.core.orders import MIN_MARKETABLE_USD, RESTING_TYPES, Posted, exchange_for
from paperexchange.core.taker_delay import TakerDelay
from paperexchange.core.trades import (
    MakerPart,
    Trade,
    apply_transfers,
    new_transaction_hash,
    part_transfers,
    taker_fee,
)
from paperexchange.core.units import ONE, amount_str, parse_price, price_str


class EventSink(Protocol):
    def market(self, asset_ids: tuple[str, ...], message: dict, custom: bool = False) -> None: ...

    def user(self, owner: str, condition_id: str, message: dict) -> None: ...


class NullSink:
    def market(self, asset_ids: tuple[str, ...], message: dict, custom: bool = False) -> None:
        pass

    def user(self, owner: str, condition_id: str, message: dict) -> None:
        pass


class Exchange:
    def __init__(self, settings: Settings, clock: Clock, sink: EventSink | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.sink: EventSink = sink or NullSink()
        self.markets = MarketRegistry()
        self.ledger = Ledger()
        self.keys = KeyStore()
        self.books: dict[str, Book] = {}
        self.last_trade: dict[str, tuple[int, str]] = {}  # condition id -> (YES price, YES-space taker side)
        self.orders: dict[str, Order] = {}  # every order ever accepted, in arrival order
        self.trades: dict[str, Trade] = {}
        self.trades_of: dict[str, list[Trade]] = defaultdict(list)  # API key -> trades it took part in
        self.live_of: dict[str, dict[str, Order]] = defaultdict(dict)  # API key -> resting orders
        self.wallets: dict[str, tuple[str, int]] = {}  # wallet -> (owner EOA, signature type)
        self.on_trade: list = []  # callbacks(trade): the settlement walk subscribes here
        self._gtd: list[tuple[int, int, str]] = []
        self._tops: dict[str, tuple[str, str]] = {}  # token -> last announced (best bid, best ask)
        self._seq = 0
        # Where trade ids and transaction hashes come from; a backtest seeds them so its report repeats.
        self.new_trade_id = lambda: str(uuid.uuid4())
        self.new_transaction_hash = new_transaction_hash
        self.delayed = TakerDelay(self, settings.taker_delay_secs)  # `itode` markets

    # ---- markets and wallets -------------------------------------------------------------------

    def add_market(self, market: Market) -> Market:
        self.books.setdefault(market.condition_id, Book())
        if self.markets.by_condition(market.condition_id) is None:
            self.markets.add(market)
        return market

    def book(self, condition_id: str) -> Book:
        return self.books[condition_id]

    def last_yes_price(self, condition_id: str) -> int | None:
        last = self.last_trade.get(condition_id)
        return last[0] if last else None

    def wallet_owner(self, wallet: str, signature_type: int) -> str | None:
        entry = self.wallets.get(wallet.lower())
        return entry[0] if entry and entry[1] == signature_type else None

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # ---- posting -------------------------------------------------------------------------------

    def post(self, posted: Posted) -> dict:
        """Match and/or rest one verified order; returns the POST /order success body."""
        order, market = posted.order, posted.market
        if order.id in self.orders:
            raise VenueError(errors.DUPLICATED.format(order_id=order.id))
        book = self.books[market.condition_id]
        crosses = book.crosses(order)
        if order.post_only and crosses:
            raise VenueError(errors.POST_ONLY_CROSSES)
        if crosses:
            self._check_marketable_minimum(posted)
        check_funds(self.ledger, order, market, posted.maker_amount, posted.exchange, crosses)
        if crosses and market.taker_delay and not order.internal:
            return self.delayed.hold(posted)
        fills = plan_fills(book, order) if crosses else []
        if order.order_type == "FOK" and not fully_filled(order, fills):
            raise VenueError(errors.FOK_NOT_FILLED)
        if order.order_type == "FAK" and not fills:
            raise VenueError(errors.FAK_NOT_FILLED)
        return self.execute(order, market, book, fills)

    @staticmethod
    def _check_marketable_minimum(posted: Posted) -> None:
        """A marketable order (one that would trade now, whatever its type) moves at least $1."""
        order = posted.order
        notional = posted.maker_amount if order.side == BUY else posted.taker_amount
        if not order.internal and notional < MIN_MARKETABLE_USD:
            raise VenueError(errors.MARKETABLE_MIN.format(side=order.side, amount=amount_str(notional)))

    def place_internal(self, order: Order) -> dict:
        """Rest or match an order the paper exchange places itself (seeded liquidity, admin flow)."""
        market = self.markets.of_token(order.token_id)
        book = self.books[market.condition_id]
        return self.execute(order, market, book, plan_fills(book, order) if book.crosses(order) else [])

    def register(self, order: Order) -> None:
        """Give an accepted order its arrival sequence and keep it."""
        self._seq += 1
        order.seq = self._seq
        self.orders[order.id] = order

    def execute(
        self, order: Order, market: Market, book: Book, fills: list[Fill], taker_event: str = "PLACEMENT"
    ) -> dict:
        """Match `order` (planned fills), rest what a GTC/GTD keeps, announce; `taker_event` is the user
        frame the taker gets (UPDATE for an order held by the taker delay, which had its PLACEMENT)."""
        self.register(order)
        before: dict[tuple[str, int], int] = {}
        now_s, ts_ms = int(self.clock.now()), self.now_ms()
        trades = [self._match(book, market, order, fills, before, now_s)] if fills else []
        if order.spend_limit is not None:
            order.original_size = max(order.original_size, order.matched)
        if order.order_type in RESTING_TYPES and order.remaining > 0:
            key = (order.book_side, order.book_price)
            before.setdefault(key, book.level_size(*key))
            book.add(order)
            set_reservation(self.ledger, order, resting=True)
            self.live_of[order.owner][order.id] = order
            if order.order_type == "GTD":
                heapq.heappush(
                    self._gtd, (order.expiration - self.settings.gtd_min_lead_secs, order.seq, order.id)
                )
        else:
            order.status = "MATCHED"
        self._announce(order, market, book, before, trades, ts_ms, taker_event)
        return self._response(order, trades)

    def _match(
        self, book: Book, market: Market, taker: Order, fills: list[Fill], before: dict, now_s: int
    ) -> Trade:
        """Book the taker's fills against every maker it reached as ONE trade, as the venue reports it."""
        parts: list[MakerPart] = []
        transfers = []
        for fill in fills:
            maker = fill.maker
            key = (maker.book_side, maker.book_price)
            before.setdefault(key, book.level_size(*key))
            book.reduce(maker, fill.size)
            maker.matched += fill.size
            taker.matched += fill.size
            set_reservation(self.ledger, maker, resting=maker.remaining > 0)
            if maker.remaining == 0:
                maker.status = "MATCHED"
                self.live_of[maker.owner].pop(maker.id, None)
            part = MakerPart(maker, fill.size, fill.yes_price, taker_fee(market, fill.size, fill.yes_price))
            parts.append(part)
            transfers += part_transfers(fill, part.fee)
        trade = Trade(
            id=self.new_trade_id(),
            market=market,
            taker=taker,
            parts=parts,
            match_time=now_s,
            last_update=now_s,
            transaction_hash=self.new_transaction_hash(),
            given=[t for t in transfers if t[2] < 0],
            received=[t for t in transfers if t[2] > 0],
        )
        # What each wallet gives leaves its balance now; what it gets arrives when the trade is MINED.
        apply_transfers(self.ledger, trade.given)
        consume_allowances(self.ledger, trade.given, exchange_for(market))
        for order in dict.fromkeys([taker, *trade.makers]):
            order.trade_ids.append(trade.id)
        self.trades[trade.id] = trade
        for owner in trade.owners():
            self.trades_of[owner].append(trade)
        self.last_trade[market.condition_id] = (trade.yes_price, taker.book_side)
        for callback in self.on_trade:
            callback(trade)
        return trade

    @staticmethod
    def _response(order: Order, trades: list[Trade]) -> dict:
        spent = sum(t.taker_collateral() for t in trades)
        shares = sum(t.size for t in trades)
        making, taking = (spent, shares) if order.side == BUY else (shares, spent)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.id,
            "status": "matched" if trades else "live",
            "makingAmount": amount_str(making) if trades else "",
            "takingAmount": amount_str(taking) if trades else "",
            "tradeIDs": [t.id for t in trades],
            "transactionsHashes": [],
        }

    # ---- cancelling ----------------------------------------------------------------------------

    def cancel(self, owner: str, order_ids: Iterable[str], status: str = "CANCELED") -> dict:
        """DELETE /order(s) body: {canceled: [...], not_canceled: {id: reason}}."""
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for order_id in order_ids:
            order = self.orders.get(order_id)
            if order is None or order.owner != owner:
                not_canceled[order_id] = errors.CANCEL_NOT_FOUND
            elif order.status != "LIVE":
                not_canceled[order_id] = errors.CANCEL_ALREADY_DONE
            else:
                self._cancel_one(order, status)
                canceled.append(order_id)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def cancel_all(self, owner: str, status: str = "CANCELED") -> dict:
        return self.cancel(owner, list(self.live_of.get(owner, {})), status)

    def cancel_market(self, owner: str, market: str | None, asset_id: str | None) -> dict:
        ids = [
            order.id
            for order in self.live_of.get(owner, {}).values()
            if (not market or order.condition_id == market) and (not asset_id or order.token_id == asset_id)
        ]
        return self.cancel(owner, ids)

    def _cancel_one(self, order: Order, status: str) -> None:
        market = self.markets.of_order(order.condition_id)
        book = self.books[order.condition_id]
        key = (order.book_side, order.book_price)
        before = {key: book.level_size(*key)}
        book.remove(order)
        order.status = status
        set_reservation(self.ledger, order, resting=False)
        self.live_of[order.owner].pop(order.id, None)
        ts_ms = self.now_ms()
        self._emit_price_change(market, book, before, ts_ms)
        self.emit_user_order(order, market, "CANCELLATION", ts_ms)

    def expire(self, now: float) -> int:
        """Cancel GTD orders whose expiration (less the security threshold) has passed."""
        count = 0
        while self._gtd and self._gtd[0][0] <= now:
            _, _, order_id = heapq.heappop(self._gtd)
            order = self.orders[order_id]
            if order.status == "LIVE":
                self._cancel_one(order, "CANCELED")
                count += 1
        return count

    # ---- announcing ----------------------------------------------------------------------------

    def _announce(
        self,
        order: Order,
        market: Market,
        book: Book,
        before: dict,
        trades: list[Trade],
        ts_ms: int,
        taker_event: str = "PLACEMENT",
    ) -> None:
        self._emit_price_change(market, book, before, ts_ms)
        for trade in trades:
            for part in trade.parts:
                self._emit_last_trade(market, trade, part, ts_ms)
        if trades:  # a trade changed the book: a full `book` frame follows for each token
            for token_id in market.token_ids:
                self.sink.market(
                    (token_id,),
                    bookview.trade_book(
                        market, book, token_id, str(ts_ms), self.last_yes_price(market.condition_id)
                    ),
                )
        if not order.internal:
            self.emit_user_order(order, market, taker_event, ts_ms)
        for trade in trades:
            for maker in dict.fromkeys(trade.makers):
                self.emit_user_order(maker, market, "UPDATE", ts_ms)
            self.emit_trade(trade)

    def announce_levels(self, market: Market, before: dict[tuple[str, int], int]) -> None:
        """Announce levels changed outside matching (an external book moved): `before` holds their old sizes."""
        self._emit_price_change(market, self.books[market.condition_id], before, self.now_ms())

    def _emit_price_change(self, market: Market, book: Book, before: dict, ts_ms: int) -> None:
        entries = bookview.price_change_entries(
            market, book, before, str(ts_ms), self.last_yes_price(market.condition_id)
        )
        if not entries:
            return
        self.sink.market(
            market.token_ids,
            {
                "market": market.condition_id,
                "price_changes": entries,
                "timestamp": str(ts_ms),
                "event_type": "price_change",
            },
        )
        for token_id in market.token_ids:
            best_bid, best_ask = bookview.best_bid_ask(book, market, token_id)
            if self._tops.get(token_id) == (best_bid, best_ask):
                continue
            self._tops[token_id] = (best_bid, best_ask)
            spread = price_str(parse_price(best_ask) - parse_price(best_bid))
            self.sink.market(
                (token_id,),
                {
                    "event_type": "best_bid_ask",
                    "market": market.condition_id,
                    "asset_id": token_id,
                    "best_bid": best_bid,
                    "best_ask": best_ask,
                    "spread": spread,
                    "timestamp": str(ts_ms),
                },
                custom=True,
            )

    def _emit_last_trade(self, market: Market, trade: Trade, part: MakerPart, ts_ms: int) -> None:
        yes_side = trade.taker.book_side
        for token_id, price, side in (
            (market.token_ids[0], part.yes_price, yes_side),
            (market.token_ids[1], ONE - part.yes_price, SELL if yes_side == BUY else BUY),
        ):
            self.sink.market(
                (token_id,),
                {
                    "asset_id": token_id,
                    "event_type": "last_trade_price",
                    "fee_rate_bps": "0",
                    "market": market.condition_id,
                    "price": price_str(price),
                    "side": side,
                    "size": amount_str(part.size),
                    "timestamp": str(ts_ms),
                    "transaction_hash": trade.transaction_hash,
                },
            )

    def emit_user_order(self, order: Order, market: Market, event_type: str, ts_ms: int) -> None:
        if not order.internal:
            self.sink.user(
                order.owner, market.condition_id, wire.order_event(order, market, event_type, ts_ms)
            )

    def emit_trade(self, trade: Trade) -> None:
        """One user-channel `trade` frame per API key in the trade: the taker's (TAKER), each maker's (MAKER).

        Every frame is the same trade (taker's top-level fields, all makers in maker_orders); only
        `trader_side` says which role the receiving key had."""
        ts_ms = self.now_ms()
        condition_id = trade.market.condition_id
        internal = {order.owner for order in (trade.taker, *trade.makers) if order.internal}
        for owner in trade.owners():
            if owner not in internal:
                role = "TAKER" if owner == trade.taker.owner else "MAKER"
                self.sink.user(owner, condition_id, wire.trade_event(trade, role, ts_ms))
