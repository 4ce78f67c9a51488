"""Venue change detection: payload parts we do not know (a new event type, a new field) are counted per
(channel, type, field) in `polydesk_venue_unexpected_total`, logged once per process with a sample, and
never make the caller drop what it does know.

Wire models keep unknown fields (`extra="allow"`) so they can be seen here; each model may list, in
`VENUE_EXTRA`, fields the venue is known to send that we do not model (those are not news).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from pydantic import BaseModel

from shared import metrics

log = logging.getLogger(__name__)

SAMPLE_MAX_CHARS = 500
EVENT_TYPE = "<event_type>"  # the `field` label of an unknown event type


class VenueChanges:
    """Counts and logs (once per key) what the venue sent that we do not know."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, str]] = set()

    def report(self, channel: str, kind: str, field: str, sample: object) -> bool:
        """Count one unexpected part; True when it is the first of its (channel, type, field)."""
        metrics.VENUE_UNEXPECTED.labels(channel=channel, type=kind, field=field).inc()
        key = (channel, kind, field)
        if key in self.seen:
            return False
        self.seen.add(key)
        log.warning(
            "venue change: %s %s has unexpected %s (the rest is used as usual); sample: %s",
            channel,
            kind,
            "event type" if field == EVENT_TYPE else f"field {field!r}",
            _sample(sample),
        )
        return True

    def unknown_event(self, channel: str, item: object) -> None:
        kind = item.get("event_type") if isinstance(item, dict) else None
        self.report(channel, str(kind)[:64], EVENT_TYPE, item)

    def check(self, channel: str, kind: str, models: Iterable[BaseModel | None]) -> int:
        """Report every unexpected field of `models` (the message and the parts worth a look); returns
        how many were found."""
        found = 0
        for model in models:
            extra = getattr(model, "model_extra", None) if model is not None else None
            if not extra:
                continue
            known: frozenset[str] = getattr(type(model), "VENUE_EXTRA", frozenset())
            for field in extra:
                if field not in known:
                    found += 1
                    self.report(channel, kind, field, {field: extra[field]})
        return found


def _sample(value: object) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:SAMPLE_MAX_CHARS]


# One per process: "logged once" means once per process lifetime.
CHANGES = VenueChanges()
