"""The dead-man heartbeat: POST /v1/heartbeats every few seconds; after repeated failures, stop submitting.

The venue cancels every open order of the key when it sees no heartbeat for 10 s, so an executor whose
heartbeats fail must not post (its orders would vanish unseen): the gate closes, the health key and the
event log say so, and it reopens (with a reconciliation) once a heartbeat is accepted again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from services.executor.venue import Venue
from shared import metrics
from shared.errors import PolydeskError
from shared.logging import EventLog

log = logging.getLogger(__name__)


class Gate:
    """Whether the executor may post now, and why not."""

    def __init__(self) -> None:
        self.heartbeat_ok = False  # no post before the first accepted heartbeat
        self.kill_switch = False
        self.changed = asyncio.Event()

    @property
    def open(self) -> bool:
        return self.heartbeat_ok and not self.kill_switch

    def reason(self) -> str:
        if self.kill_switch:
            return "kill switch on"
        return "" if self.heartbeat_ok else "heartbeats failing"

    def set(self, *, heartbeat_ok: bool | None = None, kill_switch: bool | None = None) -> None:
        if heartbeat_ok is not None:
            self.heartbeat_ok = heartbeat_ok
        if kill_switch is not None:
            self.kill_switch = kill_switch
        self.changed.set()


class Heartbeat:
    def __init__(
        self,
        venue: Venue,
        gate: Gate,
        events: EventLog,
        *,
        interval_secs: float,
        max_failures: int,
        on_recovered: Callable[[], Awaitable[None]] | None = None,
        clock=time.monotonic,
    ) -> None:
        self.venue = venue
        self.gate = gate
        self.events = events
        self.interval_secs = interval_secs
        self.max_failures = max_failures
        self.on_recovered = on_recovered
        self._clock = clock
        self.heartbeat_id = ""
        self.failures = 0
        self.last_ok: float | None = None

    def age(self) -> float | None:
        return None if self.last_ok is None else self._clock() - self.last_ok

    async def beat(self) -> bool:
        """Send one heartbeat; True when the venue accepted it."""
        try:
            self.heartbeat_id = await self.venue.heartbeat(self.heartbeat_id)
        except PolydeskError as error:
            self.failures += 1
            log.warning("heartbeat failed (%d in a row): %s", self.failures, error)
            if self.failures >= self.max_failures and self.gate.heartbeat_ok:
                self.gate.set(heartbeat_ok=False)
                self.events.emit(
                    "heartbeat_failed", failures=self.failures, error=str(error), action="submission stopped"
                )
                log.error("heartbeats failing (%d in a row): submission stopped", self.failures)
            return False
        recovered = not self.gate.heartbeat_ok and self.last_ok is not None
        self.failures = 0
        self.last_ok = self._clock()
        metrics.EXECUTOR_HEARTBEAT_AGE_SECONDS.set(0)
        if not self.gate.heartbeat_ok:
            self.gate.set(heartbeat_ok=True)
        if recovered:
            self.events.emit("heartbeat_recovered", action="submission resumed")
            log.warning("heartbeats accepted again: submission resumed")
            if self.on_recovered:
                await self.on_recovered()
        return True

    async def report_age(self) -> None:
        """Move the heartbeat-age gauge (a periodic job): it grows while heartbeats fail, so the alert fires."""
        age = self.age()
        if age is not None:
            metrics.EXECUTOR_HEARTBEAT_AGE_SECONDS.set(age)
