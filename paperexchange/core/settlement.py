"""The trade status walk after a match: MATCHED -> MINED -> CONFIRMED, or RETRYING -> FAILED when injected.

MINED comes `mined_delay` after the match and CONFIRMED `confirmed_delay` after MINED (live-like defaults in
config.Settings; a fast setting for tests), on the injectable clock; every step is sent to every party on
the user channel. What a trade gives a wallet (tokens bought, pUSD from a sale) reaches its balance when
the trade is MINED, as on chain: selling bought tokens before that is refused (`not enough balance /
allowance`). A FAILED trade gives back what each side gave at the match and delivers nothing; the orders
stay matched, as on the venue.
"""

from __future__ import annotations

import heapq
import itertools

from paperexchange.core.clock import Clock
from paperexchange.core.exchange import Exchange
from paperexchange.core.trades import Trade, apply_transfers

NEXT_STATUS = {"MATCHED": "MINED", "MINED": "CONFIRMED"}
NEXT_STATUS_FAILING = {"MATCHED": "RETRYING", "RETRYING": "FAILED"}
TERMINAL = frozenset({"CONFIRMED", "FAILED"})


class Settlement:
    def __init__(self, exchange: Exchange, clock: Clock, delays: tuple[float, float]) -> None:
        self._exchange = exchange
        self._clock = clock
        self.mined_delay_secs, self.confirmed_delay_secs = delays
        # (due, arrival seq, trade): a heap, because MINED -> CONFIRMED waits longer than MATCHED -> MINED.
        self._pending: list[tuple[float, int, Trade]] = []
        self._seq = itertools.count()
        self._fail_next = 0
        self._fail_markets: set[str] = set()
        exchange.on_trade.append(self._matched)

    def set_fast(self, delay_secs: float) -> None:
        """Every later step of the walk takes `delay_secs` (the admin API's settlement_delay_secs)."""
        self.mined_delay_secs = self.confirmed_delay_secs = delay_secs

    def _delay_after(self, status: str) -> float:
        return self.confirmed_delay_secs if status == "MINED" else self.mined_delay_secs

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
        self._schedule(self._clock.now() + self.mined_delay_secs, trade)

    def _schedule(self, due: float, trade: Trade) -> None:
        heapq.heappush(self._pending, (due, next(self._seq), trade))

    def step(self) -> int:
        """Advance every trade whose next step is due; returns how many moved."""
        now, moved = self._clock.now(), 0
        while self._pending and self._pending[0][0] <= now:
            _, _, trade = heapq.heappop(self._pending)
            trade.status = (NEXT_STATUS_FAILING if trade.fail else NEXT_STATUS)[trade.status]
            trade.last_update = int(now)
            if trade.status == "MINED":
                apply_transfers(self._exchange.ledger, trade.received)
            elif trade.status == "FAILED":
                apply_transfers(self._exchange.ledger, trade.given, sign=-1)
            self._exchange.emit_trade(trade)
            if trade.status not in TERMINAL:
                self._schedule(now + self._delay_after(trade.status), trade)
            moved += 1
        return moved
