"""The project's small exception tree; venue and transport errors are translated into it at the boundary."""

from __future__ import annotations


class PolydeskError(Exception):
    """Base of every error polydesk raises on purpose."""


class ConfigurationError(PolydeskError):
    """A setting is missing or invalid: fatal at start, names the field."""


class DecodeError(PolydeskError):
    """A bus entry or wire frame cannot be decoded: dead-lettered with this reason, never retried."""


class TransientVenueError(PolydeskError):
    """The venue or a transport failed in a way that may succeed on retry (5xx, reset, timeout before send)."""


class RateLimited(TransientVenueError):
    """The venue asked us to slow down; `retry_after_secs` says for how long."""

    def __init__(self, message: str, retry_after_secs: float) -> None:
        super().__init__(message)
        self.retry_after_secs = retry_after_secs


class VenueRejected(PolydeskError):
    """The venue refused definitively (bad price, no balance, ...): never retried."""


class UnknownOutcome(PolydeskError):
    """A request may or may not have taken effect (timeout after send, 5xx on post): reconcile, never resend."""
