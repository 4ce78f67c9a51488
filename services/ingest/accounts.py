"""Periodic account_state events from chain reads: pUSD balance, allowances to the exchange contracts and
CTF balances of the tokens held. An unreachable RPC is a (throttled) warning and a metric, never a crash.

Tokens read: those of the selected markets plus any the account was seen holding, capped; the CTF
approvals (operators) go to the health status, since account_state has no field for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from redis.exceptions import RedisError

from shared import metrics
from shared.errors import TransientVenueError
from shared.messages import AccountState, Envelope
from shared.polymarket.chain import AccountReading, ChainReader
from shared.streams import Bus, Output, events_stream

log = logging.getLogger(__name__)

MAX_TOKENS = 200
WARN_EVERY_SECS = 300.0


def account_state(reading: AccountReading, producer: str) -> AccountState:
    return AccountState(
        envelope=Envelope.new(producer),
        wallet=reading.wallet,
        collateral_balance=reading.collateral_balance,
        allowances=dict(reading.allowances),
        token_balances={t: b for t, b in reading.token_balances.items() if b != 0},
        block_number=reading.block_number,
    )


class AccountReader:
    """Reads `wallet` every `poll_secs` and publishes account_state to every shard (each strategy and risk
    worker needs the balance whatever markets it trades)."""

    def __init__(
        self,
        bus: Bus,
        reader: ChainReader,
        wallet: str,
        shards: Iterable[str],
        *,
        tokens: Callable[[], Iterable[str]] = lambda: (),
        producer: str = "ingest",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus, self.reader, self.wallet = bus, reader, wallet
        self.shards, self.tokens, self.producer, self._clock = tuple(shards), tokens, producer, clock
        self.held: set[str] = set()
        self.status: dict[str, object] = {"rpc_ok": None, "failures": 0, "published": 0}
        self._last_warning = -1e9

    async def read_once(self) -> AccountState | None:
        """One read and publish; None (after a throttled warning) when the RPC cannot be read."""
        tokens = list(dict.fromkeys([*sorted(self.held), *self.tokens()]))[:MAX_TOKENS]
        try:
            reading = await self.reader.read(self.wallet, tokens)
        except TransientVenueError as error:
            self.status["failures"] = int(self.status["failures"]) + 1  # type: ignore[call-overload]
            self.status["rpc_ok"] = False
            metrics.INGEST_RPC_UP.set(0)
            metrics.INGEST_POLL_ERRORS.labels(source="rpc").inc()
            now = self._clock()
            if now - self._last_warning >= WARN_EVERY_SECS:
                self._last_warning = now
                log.warning(
                    "ingest: chain read failed (warnings throttled to one per %.0fs): %s",
                    WARN_EVERY_SECS,
                    error,
                )
            return None
        metrics.INGEST_RPC_UP.set(1)
        self.status["rpc_ok"] = True
        self.status["operators_approved"] = reading.operator_approvals
        self.held |= {t for t, b in reading.token_balances.items() if b != 0}
        message = account_state(reading, self.producer)
        try:
            await self.bus.publish_many([Output(events_stream(shard), message) for shard in self.shards])
        except (RedisError, OSError) as error:
            log.warning("ingest: account_state not published: %s", error)
            return None
        self.status["published"] = int(self.status["published"]) + 1  # type: ignore[call-overload]
        return message
