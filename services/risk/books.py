"""Resting orders on a market whose book stays not valid (stale, resyncing, gap) for longer than
`book_invalid_cancel_secs` are cancelled: risk asks the executor (CancelAllRequested for the market on
`control`), which drops the market's queued approvals and cancels its open orders at the venue."""

from __future__ import annotations

from services.risk.config import RiskSettings
from services.risk.state import RiskState
from shared.messages import CancelAllRequested, Envelope

PRODUCER = "risk"


class BookGuard:
    """Which markets' orders to cancel now; asks again for a market only after another full period."""

    def __init__(self, settings: RiskSettings, state: RiskState) -> None:
        self.settings, self.state = settings, state
        self.asked: dict[str, float] = {}  # market -> when its cancel was last asked

    def cancels(self) -> list[CancelAllRequested]:
        now, period = self.state.clock(), self.settings.book_invalid_cancel_secs
        invalid = self.state.books_invalid_since(now - period)
        out: list[CancelAllRequested] = []
        for market in dict.fromkeys(row.market for row in invalid):
            if now - self.asked.get(market, -1e18) < period or not self.state.has_open_orders(market):
                continue
            self.asked[market] = now
            row = next(r for r in invalid if r.market == market)
            reason = (
                f"book of {row.token_id[:12]} {row.state} ({row.reason}) for "
                f"{now - row.since_ts:.0f}s > {period:g}s"
            )
            out.append(CancelAllRequested(envelope=Envelope.new(PRODUCER), reason=reason, market=market))
        return out
