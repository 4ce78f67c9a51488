"""Settings of the strategy layer (environment prefix POLYDESK_)."""

from __future__ import annotations

from shared.config import ServiceSettings


class StrategySettings(ServiceSettings):
    """Common settings only, for now; the strategy issue adds its own."""
