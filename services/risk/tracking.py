"""What happened, applied to risk's state: fills, redemptions and order updates (`fills`), markets, resolutions
and marks (`events:*`). Fills go through the shared ledger (shared.ledger), the same rules strategy uses.

Any change that moves today's PnL (a fill, a resolution, a mark) is followed at once by the daily loss
check, which trips the kill switch.
"""

from __future__ import annotations

from decimal import Decimal

from services.risk import killswitch
from services.risk.config import RiskSettings
from services.risk.handling import Effects
from services.risk.pnl import mark_from_top
from services.risk.state import RiskState
from shared.ledger import order_is_open
from shared.logging import fill_event_fields
from shared.messages import (
    BookDelta,
    BookSnapshot,
    BookStatus,
    Fill,
    MarketDiscovered,
    MarketResolved,
    MarketUpdated,
    Message,
    OrderUpdate,
    PositionRedeemed,
    TickSizeChanged,
)


class Tracker:
    def __init__(self, settings: RiskSettings, state: RiskState) -> None:
        self.settings = settings
        self.state = state

    def on_fill(self, fill: Fill, fx: Effects) -> str:
        applied = self.state.apply_fill(fill)
        if applied.outcome == "duplicate":
            return applied.outcome
        fx.event("fill", **fill_event_fields(fill), outcome=applied.outcome, moved=applied.moved)
        if applied.anomaly:
            fx.event(
                "ledger_anomaly",
                reason=applied.anomaly,
                detail=applied.detail,
                trade_id=fill.trade_id,
                order_id=fill.order_id,
                status=fill.status,
            )
        if applied.moved:
            self.check_loss(fill, fx)
        return applied.outcome

    def on_redeemed(self, message: PositionRedeemed, fx: Effects) -> None:
        applied = self.state.apply_redemption(message)
        if applied.outcome == "duplicate":
            return
        fx.event(
            "position_redeemed",
            market=message.market,
            token_id=message.token_id,
            shares=message.shares,
            payout_usd=message.payout_usd,
            transaction_hash=message.transaction_hash,
            anomaly=applied.anomaly,
        )
        self.check_loss(message, fx)

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.client_order_id is None:
            return  # not ours to count: risk tracks orders it approved
        if order_is_open(update.status, update.original_size, update.size_matched):
            self.state.upsert_open_order(
                update.client_order_id,
                update.market,
                update.token_id,
                update.side,
                update.price,
                update.original_size - update.size_matched,
            )
        else:
            self.state.close_open_order(update.client_order_id)

    def on_resolved(self, message: MarketResolved, fx: Effects) -> None:
        """Winning tokens are worth 1 and losing ones 0 at once: realized and daily PnL move, then the loss check."""
        winner = message.winning_token_id
        if winner is None and message.winning_outcome:
            winner = self.state.token_of_outcome(message.condition_id, message.winning_outcome)
        if winner is None:
            # Unknown is shown as unknown: the market is closed, its positions stay at their last marks.
            self.state.close_market(message.condition_id)
            fx.event(
                "market_resolved",
                market=message.condition_id,
                winner=None,
                moved_tokens=[],
                detail="no winning token known: positions not settled",
            )
            return
        moved = self.state.resolve_market(message.condition_id, winner)
        realized, unrealized = self.state.daily_pnl()
        fx.event(
            "market_resolved",
            market=message.condition_id,
            winner=winner,
            moved_tokens=moved,
            realized_today_usd=realized,
            unrealized_today_usd=unrealized,
        )
        if moved:
            self.check_loss(message, fx)

    def on_market_event(self, message: Message, fx: Effects) -> None:
        if isinstance(message, MarketDiscovered | MarketUpdated):
            self.state.upsert_market(message.market)
        elif isinstance(message, MarketResolved):
            self.on_resolved(message, fx)
        elif isinstance(message, BookStatus):
            self.state.set_book_status(
                message.token_id, message.market, message.state.value, message.reason, message.epoch
            )
        elif isinstance(message, TickSizeChanged):
            self.state.set_tick_size(message.market, message.new_tick_size)
            self.state.set_book_status(message.token_id, message.market, "resyncing", "tick_size_change", -1)
        elif isinstance(message, BookSnapshot):
            self.state.set_book_status(message.token_id, message.market, "valid", "", message.epoch)
            best_bid = message.bids[0].price if message.bids else None
            best_ask = message.asks[0].price if message.asks else None
            self._mark(message.token_id, mark_from_top(best_bid, best_ask), message, fx)
        elif isinstance(message, BookDelta):
            for token_id in set(message.best_bid) | set(message.best_ask):
                mark = mark_from_top(message.best_bid.get(token_id), message.best_ask.get(token_id))
                self._mark(token_id, mark, message, fx)

    def mark_unheld(self, delta: BookDelta) -> bool:
        """A delta that moves the mark of no held token: its marks are taken in memory and True returned, with
        nothing to persist, check or announce (on_market_event would do the same, in a transaction). False,
        and nothing changed, when a held token's mark moves: that is on_market_event's work."""
        held = self.state.held_tokens()
        marks: dict[str, Decimal] = {}
        for token_id in set(delta.best_bid) | set(delta.best_ask):
            mark = mark_from_top(delta.best_bid.get(token_id), delta.best_ask.get(token_id))
            if mark is None:
                continue
            if token_id in held and self.state.marks.get(token_id) != mark:
                return False
            marks[token_id] = mark
        self.state.marks.update(marks)
        return True

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
