"""Settings of `polydesk up`, the local supervisor."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.config import ServiceSettings, parse_list

SERVICES = ("ingest", "strategy", "risk", "executor")


class UpSettings(ServiceSettings):
    up_services: Annotated[tuple[str, ...], NoDecode] = Field(
        default=SERVICES, description="which services `polydesk up` runs"
    )
    restart_backoff_base_secs: float = Field(default=0.5, gt=0)
    restart_backoff_max_secs: float = Field(default=30.0, gt=0)
    restart_reset_after_secs: float = Field(default=60.0, gt=0, description="uptime that resets the backoff")

    @field_validator("up_services", mode="before")
    @classmethod
    def _services(cls, value: Any) -> Any:
        value = parse_list(value)
        unknown = [s for s in value if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
        return value
