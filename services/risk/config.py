"""Settings of the risk layer (environment prefix POLYDESK_)."""

from __future__ import annotations

from shared.config import ServiceSettings


class RiskSettings(ServiceSettings):
    """Common settings only, for now; the risk issue adds its own."""
