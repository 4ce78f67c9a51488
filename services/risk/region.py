"""The trading region as the venue sees it (Polymarket's geoblock check), for rule GEO_RESTRICTION.

Risk asks `geoblock_url` at start and every `geoblock_check_secs`. `blocked`: nothing passes;
`close_only`: only orders that reduce a position (SELLs of held shares) pass; `ok`: no restriction.
A failed check never shows a safer state than the last known one: a restriction stays until a check
answers otherwise, and with none known the region is `unknown` (logged; not a restriction, since
the executor's preflight refuses to start live trading without a good answer).
"""

from __future__ import annotations

import logging

from shared.errors import PolydeskError
from shared.logging import EventLog
from shared.polymarket.geoblock import fetch_geoblock, region_status

log = logging.getLogger(__name__)

RESTRICTED = ("blocked", "close_only")


class RegionWatch:
    def __init__(self, url: str | None, interval_secs: float, events: EventLog | None = None) -> None:
        self.url = url
        self.interval_secs = interval_secs
        self.events = events
        self.status = "unchecked" if url is None else "unknown"

    async def check(self) -> str:
        assert self.url is not None
        status: str
        try:
            answer = await fetch_geoblock(self.url)
            status = region_status(answer)
            where = f"{answer.country}-{answer.region}"
        except PolydeskError as error:
            status = self.status if self.status in RESTRICTED else "unknown"
            where = f"check failed: {error}"
        if status != self.status:
            log.warning("trading region: %s (%s)", status, where)
            if self.events is not None:
                self.events.emit("trading_region", status=status, previous=self.status, where=where)
        self.status = status
        return status
