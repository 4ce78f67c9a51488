"""The backtest's paper exchange: in this process (a thread), its clock the tape's, its books the tape's.

Markets come from the tape's metadata; our wallet is funded; trade ids and transaction hashes come from
the seed, so two runs of the same tape and seed name the same trades. `step(batch)` moves the clock to
the batch's time, runs the venue's time-based rules (settlement, GTD expiry, delayed takers) at that
instant and applies the batch through the external books (paperexchange/external_book.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paperexchange import config as paper_config
from paperexchange.config import Settings
from paperexchange.external_book import BookBatch, ExternalBooks
from paperexchange.ledger import COLLATERAL, MAX_ALLOWANCE
from paperexchange.server import PaperExchangeServer
from paperexchange.tape_source import TapeBookSource
from shared.clock import SimClockWriter

NEVER = 10.0**9  # seconds: heartbeats are paced by the wall clock, so their expiry cannot follow tape time


class TapeClock:
    """The venue's clock: the instant the driver wrote into the shared clock file."""

    def __init__(self, writer: SimClockWriter) -> None:
        self._writer = writer

    def now(self) -> float:
        return self._writer.now()


@dataclass(frozen=True)
class ExchangeActivity:
    """What the exchange has done so far, to see whether a step is still moving."""

    drained: bool
    market_frames: int
    user_events: int
    orders: int
    trades: int
    requests_in_flight: int


class _CountingApp:
    """ASGI wrapper counting HTTP requests in progress (a step is not over while one is)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.in_flight = app, 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BacktestVenue:
    def __init__(self, source: TapeBookSource, writer: SimClockWriter, seed: int) -> None:
        self.source, self.writer = source, writer
        settings = Settings(
            port=0, admin=True, default_markets=False, heartbeat_timeout_secs=NEVER, log_level="warning"
        )
        self.server = PaperExchangeServer(settings, clock=TapeClock(writer))
        self.counting = _CountingApp(self.server.app)
        self.server.app = self.counting  # type: ignore[assignment]  # any ASGI app serves
        self.venue = self.server.venue
        ids = random.Random(seed)
        self.venue.exchange.new_trade_id = lambda: _uuid_from(ids)
        self.venue.exchange.new_transaction_hash = lambda: (
            "0x" + ids.getrandbits(256).to_bytes(32, "big").hex()
        )
        self.markets = source.create_markets(self.venue)
        self.external = ExternalBooks(self.venue)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.__enter__()

    def stop(self) -> None:
        self.server.__exit__(None, None, None)

    def fund(self, wallet: str, collateral_usd: float) -> None:
        def fund() -> None:
            ledger = self.venue.exchange.ledger
            ledger.set_balance(wallet, COLLATERAL, int(collateral_usd * 1_000_000))
            for spender in (paper_config.STANDARD_EXCHANGE, paper_config.NEG_RISK_EXCHANGE):
                ledger.set_allowance(wallet, spender, MAX_ALLOWANCE)
                ledger.set_approval_for_all(wallet, spender, True)

        self.server.call(fund)

    def step(self, batch: BookBatch | None, at_ms: int) -> None:
        """Move to `at_ms` (never back) and apply `batch` there, on the exchange's own thread."""
        self.writer.set_ns(max(self.writer.now_ns(), at_ms * 1_000_000))
        self.server.call(self._step, batch)

    def _step(self, batch: BookBatch | None) -> None:
        self.venue.tick()
        if batch is not None:
            self.external.apply(batch)

    def activity(self) -> ExchangeActivity:
        return self.server.call(self._activity)

    def _activity(self) -> ExchangeActivity:
        market = self.venue.market_hub.subscribers()
        user = self.venue.user_hub.subscribers()
        exchange = self.venue.exchange
        return ExchangeActivity(
            drained=all(sub.drained for sub in [*market, *user]),
            market_frames=sum(sub.frames_sent for sub in market),
            user_events=sum(sub.events_pushed for sub in user),
            orders=len(exchange.orders),
            trades=len(exchange.trades),
            requests_in_flight=self.counting.in_flight,
        )

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return self.server.call(function, *args)


def _uuid_from(rng: random.Random) -> str:
    value = rng.getrandbits(128)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{text[16:20]}-{text[20:]}"
