"""Settings of the executor layer (environment prefix POLYDESK_)."""

from __future__ import annotations

from shared.config import ServiceSettings


class ExecutorSettings(ServiceSettings):
    """Common settings only, for now; the executor issue adds its own."""
