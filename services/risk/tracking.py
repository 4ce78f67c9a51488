"""What happened, applied to risk's state: fills and order updates (`fills`), markets and marks (`events:*`).

Any change that moves today's PnL is followed by the daily loss check, which trips the kill switch.
"""

from __future__ import annotations

from decimal import Decimal

from services.risk import killswitch
from services.risk.config import RiskSettings
from services.risk.handling import Effects
from services.risk.pnl import mark_from_top
from services.risk.state import FillRecord, RiskState
from shared.messages import (
    BookDelta,
    BookSnapshot,
    Fill,
    MarketDiscovered,
    MarketResolved,
    MarketUpdated,
    Message,
    OrderStatus,
    OrderUpdate,
)

# Whether an order with this status can still trade (and so still counts as open notional).
ORDER_STATUS_IS_OPEN: dict[OrderStatus, bool] = {
    OrderStatus.PENDING: True,
    OrderStatus.UNKNOWN: True,  # may be live at the venue: count it until reconciled
    OrderStatus.LIVE: True,
    OrderStatus.DELAYED: True,
    OrderStatus.MATCHED: True,  # the remaining size decides: a partial match is still open
    OrderStatus.CANCELED: False,
    OrderStatus.REJECTED: False,
    OrderStatus.EXPIRED: False,
}

# Fill outcomes that change positions or PnL (see RiskState.apply_fill).
MOVING_OUTCOMES = frozenset({"applied", "reversed"})


class Tracker:
    def __init__(self, settings: RiskSettings, state: RiskState) -> None:
        self.settings = settings
        self.state = state

    def on_fill(self, fill: Fill, fx: Effects) -> str:
        record = FillRecord(fill.trade_id, fill.status, fill.market, fill.token_id, fill.side, fill.size, fill.price,
                            fill.fee_usd)
        outcome = self.state.apply_fill(record)
        if outcome == "duplicate":
            return outcome
        fx.event("fill", trade_id=fill.trade_id, status=fill.status, outcome=outcome, market=fill.market,
                 token_id=fill.token_id, side=fill.side, size=fill.size, price=fill.price, fee_usd=fill.fee_usd,
                 client_order_id=fill.client_order_id, strategy=fill.strategy)
        if outcome in MOVING_OUTCOMES:
            self.check_loss(fill, fx)
        return outcome

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.client_order_id is None:
            return  # not ours to count: risk tracks orders it approved
        remaining = update.original_size - update.size_matched
        if ORDER_STATUS_IS_OPEN[update.status] and remaining > 0:
            self.state.upsert_open_order(update.client_order_id, update.market, update.token_id, update.side,
                                         update.price, remaining)
        else:
            self.state.close_open_order(update.client_order_id)

    def on_market_event(self, message: Message, fx: Effects) -> None:
        if isinstance(message, MarketDiscovered | MarketUpdated):
            self.state.upsert_market(message.market)
        elif isinstance(message, MarketResolved):
            self.state.close_market(message.condition_id)
        elif isinstance(message, BookSnapshot):
            best_bid = message.bids[0].price if message.bids else None
            best_ask = message.asks[0].price if message.asks else None
            self._mark(message.token_id, mark_from_top(best_bid, best_ask), message, fx)
        elif isinstance(message, BookDelta):
            for token_id in set(message.best_bid) | set(message.best_ask):
                mark = mark_from_top(message.best_bid.get(token_id), message.best_ask.get(token_id))
                self._mark(token_id, mark, message, fx)

    def _mark(self, token_id: str, mark: Decimal | None, cause: Message, fx: Effects) -> None:
        if mark is not None and self.state.set_mark(token_id, mark):
            self.check_loss(cause, fx)

    def check_loss(self, cause: Message, fx: Effects) -> None:
        """Trip the kill switch when today's realized + unrealized PnL is below minus the limit."""
        realized, unrealized = self.state.daily_pnl()
        total, limit = realized + unrealized, self.settings.max_daily_loss_usd
        if total < -limit:
            reason = f"daily PnL {total} below -{limit} (realized {realized}, unrealized {unrealized})"
            killswitch.trip_on_loss(self.state, fx, reason=reason, cause=cause)
