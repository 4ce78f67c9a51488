"""Taker delay (`itode`): on a market with it, a marketable order is answered `delayed` and matched about
250 ms later against the book as it is then (docs: get-clob-market-info, `itode`; polymarket-protocol.md
§5.2). A FOK that cannot fill then, or a FAK with nothing to match, arrives as a CANCELLATION on the user
channel (no HTTP answer is left to carry the error); a GTC rests what it could not match.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from paperexchange.core import errors
from paperexchange.core.engine import fully_filled, plan_fills
from paperexchange.core.funds import set_reservation
from paperexchange.core.orders import Posted

if TYPE_CHECKING:
    from paperexchange.core.exchange import Exchange

# The status a killed FOK's CANCELLATION carries (ws_user_order_fok_killed.json).
FOK_KILLED_STATUS = "CANCELED_" + errors.FOK_NOT_FILLED
FAK_KILLED_STATUS = "CANCELED_" + errors.FAK_NOT_FILLED


class TakerDelay:
    def __init__(self, exchange: Exchange, delay_secs: float) -> None:
        self._exchange = exchange
        self.delay_secs = delay_secs
        self._held: list[tuple[float, int, Posted]] = []

    def hold(self, posted: Posted) -> dict:
        """Accept a marketable order without matching it; the POST /order answer says `delayed`."""
        exchange, order = self._exchange, posted.order
        exchange.register(order)
        order.status = "DELAYED"
        set_reservation(exchange.ledger, order, resting=True)  # its funds are spoken for while it waits
        heapq.heappush(self._held, (exchange.clock.now() + self.delay_secs, order.seq, posted))
        exchange.emit_user_order(order, posted.market, "PLACEMENT", exchange.now_ms())
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.id,
            "status": "delayed",
            "makingAmount": "",
            "takingAmount": "",
            "tradeIDs": [],
            "transactionsHashes": [],
        }

    def release(self, now: float) -> int:
        """Match every held order whose delay is over; returns how many were released."""
        released = 0
        while self._held and self._held[0][0] <= now:
            _, _, posted = heapq.heappop(self._held)
            self._match(posted)
            released += 1
        return released

    def _match(self, posted: Posted) -> None:
        exchange, order, market = self._exchange, posted.order, posted.market
        if order.status != "DELAYED":
            return
        set_reservation(exchange.ledger, order, resting=False)
        book = exchange.book(market.condition_id)
        fills = plan_fills(book, order) if book.crosses(order) else []
        if order.order_type == "FOK" and not fully_filled(order, fills):
            self._kill(posted, FOK_KILLED_STATUS)
        elif order.order_type == "FAK" and not fills:
            self._kill(posted, FAK_KILLED_STATUS)
        else:
            exchange.execute(order, market, book, fills, taker_event="UPDATE")

    def _kill(self, posted: Posted, status: str) -> None:
        exchange = self._exchange
        posted.order.status = status
        exchange.emit_user_order(posted.order, posted.market, "CANCELLATION", exchange.now_ms())
