"""A paper exchange whose books follow a recorded tape, stepped by its caller: what `polydesk backtest` runs.

It runs in the caller's process (a thread, `PaperExchangeServer`), its clock whatever the caller's clock
object says (the backtest's: the tape's time, shared with the services through `shared.clock`). Markets
come from the tape's metadata; trade ids and transaction hashes come from the seed, so two runs of the same
tape and seed name the same trades. `step(batch)` runs the venue's time-based rules (settlement, GTD
expiry, delayed takers) at the clock's instant and applies the batch through the external books
(paperexchange/sim/external_book.py, where the queue model is). The reads (`activity`, `subscriptions`,
`marks`, `resolutions`) are what a driver needs to know a step is over and to report on it.

This module and `paperexchange.server` are the outside's entry points to the replaying venue
(tests/unit/test_paperexchange_boundary.py); the tape format's writers are re-exported for `polydesk record`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from paperexchange.core import config as paper_config
from paperexchange.core.clock import Clock
from paperexchange.core.config import Settings
from paperexchange.core.ledger import COLLATERAL, MAX_ALLOWANCE
from paperexchange.core.units import PRICE_SCALE
from paperexchange.server import PaperExchangeServer
from paperexchange.sim.external_book import BookBatch, ExternalBooks
from paperexchange.sim.tape_source import TapeBookSource, TapeError
from paperexchange.sim.tapes import frame_line, meta_line

__all__ = [
    "BookBatch",
    "ExchangeActivity",
    "ReplayVenue",
    "TapeBookSource",
    "TapeError",
    "frame_line",
    "meta_line",
]

NEVER = 10.0**9  # seconds: heartbeats are paced by the machine's clock, so their expiry cannot follow a tape


@dataclass(frozen=True)
class ExchangeActivity:
    """What the exchange has done so far, to see whether a step is still moving."""

    drained: bool  # every socket's queue written
    market_frames: int  # data frames written on market sockets
    user_events: int  # events written on user sockets (one per frame; held ones not yet)
    orders: int
    trades: int
    requests_in_flight: int


@dataclass(frozen=True)
class Resolution:
    at_ms: int
    condition_id: str
    token_ids: tuple[str, str]
    winner: str


ORDER_CHANGES = {("POST", "/order"), ("POST", "/orders"), ("DELETE", "/order"), ("DELETE", "/orders"),
                 ("DELETE", "/cancel-all"), ("DELETE", "/cancel-market-orders")}  # fmt: skip
RESYNC_WAIT_SECS = 5.0


class _CountingApp:
    """ASGI wrapper: counts HTTP requests in progress (a step is not over while one is), and holds our
    order changes while a book whose tick just changed has not been read over REST yet.

    A tick size change makes a client rebuild that book from GET /book; an order of ours landing between
    the change and that read would race it (the client's snapshot may or may not hold it), and two runs
    of one tape could differ. Held until the read (at most RESYNC_WAIT_SECS), the order always comes after."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.in_flight = app, 0
        self.awaiting_books: dict[str, float] = {}  # token -> loop time its resync read became due

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            if (scope["method"], scope["path"]) in ORDER_CHANGES:
                await self._until_books_read()
            await self.app(scope, receive, send)
            if scope["path"] == "/book":
                token = parse_qs(scope.get("query_string", b"").decode()).get("token_id", [""])[0]
                self.awaiting_books.pop(token, None)
        finally:
            self.in_flight -= 1

    async def _until_books_read(self) -> None:
        loop = asyncio.get_running_loop()
        while self.awaiting_books:
            due = min(self.awaiting_books.values())
            if loop.time() - due > RESYNC_WAIT_SECS:
                self.awaiting_books.clear()  # nobody reads them: no race to avoid
                return
            await asyncio.sleep(0.002)


class ReplayVenue:
    def __init__(self, source: TapeBookSource, clock: Clock, seed: int) -> None:
        self.source = source
        settings = Settings(
            port=0, admin=True, default_markets=False, heartbeat_timeout_secs=NEVER, log_level="warning"
        )
        self.server = PaperExchangeServer(settings, clock=clock)
        self._counting = _CountingApp(self.server.app)
        self.server.app = self._counting  # type: ignore[assignment]  # any ASGI app serves
        self.venue = self.server.venue
        ids = random.Random(seed)
        self.venue.exchange.new_trade_id = lambda: _uuid_from(ids)
        self.venue.exchange.new_transaction_hash = lambda: (
            "0x" + ids.getrandbits(256).to_bytes(32, "big").hex()
        )
        self.markets = source.create_markets(self.venue)
        self.external = ExternalBooks(self.venue)
        self.venue.user_hub.hold()  # user-channel events go out only when the caller releases them
        self.venue.exchange.now_ms = _strictly_increasing_ms(clock)  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    def start(self) -> None:
        self.server.__enter__()

    def stop(self) -> None:
        self.server.__exit__(None, None, None)

    def fund(self, wallet: str, collateral_usd: float) -> None:
        """Give a wallet pUSD and every allowance (what the admin API's /fund does)."""

        def fund() -> None:
            ledger = self.venue.exchange.ledger
            ledger.set_balance(wallet, COLLATERAL, int(collateral_usd * 1_000_000))
            for spender in (paper_config.STANDARD_EXCHANGE, paper_config.NEG_RISK_EXCHANGE):
                ledger.set_allowance(wallet, spender, MAX_ALLOWANCE)
                ledger.set_approval_for_all(wallet, spender, True)

        self.server.call(fund)

    def step(self, batch: BookBatch | None) -> None:
        """At the clock's instant: the venue's time rules, then the batch (None: time only)."""
        self.server.call(self._step, batch)

    def _step(self, batch: BookBatch | None) -> None:
        self.venue.tick()
        if batch is None:
            return
        ticks = {m.condition_id: m.tick_size for m in self.markets}
        self.external.apply(batch)
        now = asyncio.get_running_loop().time()
        for market in self.markets:
            if market.tick_size != ticks[market.condition_id]:
                self._counting.awaiting_books.update(dict.fromkeys(market.token_ids, now))

    def release_user_events(self) -> int:
        """Send the user-channel events held since the last release; returns how many. A driver releases
        them once the market channel's consequences have settled, so the services always see a step's
        market data before its fills, whatever the machine's load."""
        return int(self.server.call(self.venue.user_hub.release_held))

    # ---- reads (each runs on the exchange's thread) ------------------------------------------------------

    def activity(self) -> ExchangeActivity:
        return self.server.call(self._activity)

    def _activity(self) -> ExchangeActivity:
        market = self.venue.market_hub.subscribers()
        user = self.venue.user_hub.subscribers()
        exchange = self.venue.exchange
        return ExchangeActivity(
            drained=all(sub.drained for sub in [*market, *user]),
            market_frames=sum(sub.frames_sent for sub in market),
            user_events=sum(sub.frames_sent for sub in user),
            orders=len(exchange.orders),
            trades=len(exchange.trades),
            requests_in_flight=self._counting.in_flight,
        )

    def subscriptions(self) -> tuple[set[str], int]:
        """(tokens some market socket subscribed to, user sockets open)."""

        def read() -> tuple[set[str], int]:
            assets = {a for sub in self.venue.market_hub.subscribers() for a in sub.assets}
            return assets, len(self.venue.user_hub.subscribers())

        return self.server.call(read)

    def open_tokens(self) -> set[str]:
        return {token for market in self.markets if not market.closed for token in market.token_ids}

    def marks(self) -> dict[str, Decimal]:
        """The mid of each open market's book on the tape (our own orders left out): the YES token's, and
        1 - mid for the NO token; no mark without both sides."""
        return self.server.call(self._marks)

    def _marks(self) -> dict[str, Decimal]:
        marks: dict[str, Decimal] = {}
        for market in self.markets:
            bid, ask = self.external.best(market.condition_id)
            if market.winner is not None or bid is None or ask is None:
                continue
            mid = Decimal(bid + ask) / 2 / PRICE_SCALE
            marks[market.token_ids[0]] = mid
            marks[market.token_ids[1]] = 1 - mid
        return marks

    def resolutions(self) -> list[Resolution]:
        def read() -> list[Resolution]:
            return [
                Resolution(int(m.closed_at * 1000), m.condition_id, m.token_ids, m.winner)
                for m in self.markets
                if m.winner is not None
            ]

        return self.server.call(read)


def _strictly_increasing_ms(clock: Clock) -> Callable[[], int]:
    """The venue's wire timestamps: the clock's ms, one more than the last when the clock has not moved.

    A backtest's clock stands still during a step, so a REST /book snapshot and the price_change frames
    around it would carry the same ms, and a client that keeps the deltas not older than its snapshot
    (ingest's resync) could not tell which came first; live, time moves between them."""
    last = 0

    def now_ms() -> int:
        nonlocal last
        last = max(int(clock.now() * 1000), last + 1)
        return last

    return now_ms


def _uuid_from(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{text[16:20]}-{text[20:]}"
