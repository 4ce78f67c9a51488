"""What the executor shows a person through its health key: tick-to-order latency and recent venue errors.

The dashboard reads only Redis; the Prometheus histogram and the JSONL log hold the full record. Errors are
the event log's own venue-error events (watched, not decided a second time), newest last.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from shared.latency import RecentLatencies
from shared.logging import EventLog

# Event types that are the venue saying no, or not answering (submitter, heartbeat, redeemer).
VENUE_ERROR_EVENTS = (
    "order_rejected",
    "order_unknown",
    "post_retry",
    "venue_restricted",
    "heartbeat_failed",
    "redeem_failed",
)
RECENT_ERRORS = 5


class DeskStatus:
    def __init__(self, events: EventLog) -> None:
        self.tick_to_order = RecentLatencies()
        self.venue_errors: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS)
        events.watch(VENUE_ERROR_EVENTS, self._venue_error)

    def _venue_error(self, event: dict[str, Any]) -> None:
        self.venue_errors.append({"ts": time.time(), "type": event["type"], "error": error_text(event)})

    def status(self) -> dict[str, object]:
        """The health key's `tick_to_order_ms` (None before the first order) and `venue_errors`."""
        return {"tick_to_order_ms": self.tick_to_order.summary(), "venue_errors": list(self.venue_errors)}


def error_text(event: dict[str, Any]) -> str:
    """One line from a venue-error event, whichever fields its type carries."""
    if event.get("type") == "order_rejected":
        return f"{event.get('code') or 'rejected'}: {event.get('message') or ''}".strip()
    if event.get("type") == "venue_restricted":
        return f"trading restricted ({event.get('restriction')}), waiting {event.get('wait_secs')}s"
    return str(event.get("error") or event.get("reason") or event.get("type"))[:200]
