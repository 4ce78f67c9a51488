"""Settings of the ingest layer (environment prefix POLYDESK_)."""

from __future__ import annotations

from shared.config import ServiceSettings


class IngestSettings(ServiceSettings):
    """Common settings only, for now; the ingest issue adds its own."""
