"""The trade status walk after a match: MATCHED -> MINED -> CONFIRMED, or RETRYING -> FAILED when injected.

Each step happens `delay` seconds after the previous one on the injectable clock; every step is sent to
the taker and the maker on the user channel. A FAILED trade's ledger transfers are undone (the on-chain
settlement never happened), but the orders stay matched, as on the venue.
"""

from __future__ import annotations

from collections import deque

from paperexchange.clock import Clock
from paperexchange.exchange import Exchange
from paperexchange.trades import Trade, apply_transfers

NEXT_STATUS = {"MATCHED": "MINED", "MINED": "CONFIRMED"}
NEXT_STATUS_FAILING = {"MATCHED": "RETRYING", "RETRYING": "FAILED"}
TERMINAL = frozenset({"CONFIRMED", "FAILED"})


class Settlement:
    def __init__(self, exchange: Exchange, clock: Clock, delay_secs: float) -> None:
        self._exchange = exchange
        self._clock = clock
        self.delay_secs = delay_secs
        self._pending: deque[tuple[float, Trade]] = deque()
        self._fail_next = 0
        self._fail_markets: set[str] = set()
        exchange.on_trade.append(self._matched)

    def fail_next(self, count: int) -> None:
        """Fault injection: the next `count` trades walk MATCHED -> RETRYING -> FAILED."""
        self._fail_next += count

    def fail_market(self, condition_id: str, enabled: bool = True) -> None:
        (self._fail_markets.add if enabled else self._fail_markets.discard)(condition_id)

    def clear_faults(self) -> None:
        self._fail_next = 0
        self._fail_markets.clear()

    def _matched(self, trade: Trade) -> None:
        if self._fail_next > 0 or trade.market.condition_id in self._fail_markets:
            trade.fail = True
            self._fail_next = max(0, self._fail_next - 1)
        self._pending.append((self._clock.now() + self.delay_secs, trade))

    def step(self) -> int:
        """Advance every trade whose next step is due; returns how many moved."""
        now, moved = self._clock.now(), 0
        while self._pending and self._pending[0][0] <= now:
            _, trade = self._pending.popleft()
            trade.status = (NEXT_STATUS_FAILING if trade.fail else NEXT_STATUS)[trade.status]
            trade.last_update = int(now)
            if trade.status == "FAILED":
                apply_transfers(self._exchange.ledger, trade.transfers, sign=-1)
            self._exchange.emit_trade(trade)
            if trade.status not in TERMINAL:
                self._pending.append((now + self.delay_secs, trade))
            moved += 1
        return moved
