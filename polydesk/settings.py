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
    restart_backoff_base_secs: float = Field(
        default=0.5,
        gt=0,
        description="first wait before a failed service restarts; it doubles with each failure",
    )
    restart_backoff_max_secs: float = Field(default=30.0, gt=0, description="longest wait before a restart")
    restart_reset_after_secs: float = Field(default=60.0, gt=0, description="uptime that resets the backoff")
    restart_max_failures: int = Field(
        default=5,
        ge=1,
        description="a service failing this many times in a row (each up < the reset time): up stops",
    )
    up_api: bool = Field(
        default=True,
        description="run the control API (polydesk api) beside the services; paper mode: on a free port "
        "unless POLYDESK_API_PORT is set",
    )
    redis_embedded: bool = Field(default=False, description="always start polydesk's own Redis (state/redis)")
    embedded_redis_port: int = Field(default=6390, ge=0, le=65535, description="port of the embedded Redis")
    up_metrics_port_base: int | None = Field(
        default=None,
        ge=1,
        le=65000,
        description="give the services /metrics ports base, base+1, ...; unset: 9101..",
    )
    paper_port: int = Field(
        default=8900, ge=0, le=65535, description="paper exchange port (0: any free port)"
    )
    paper_scenario: str = Field(
        default="default", description='scenario file or shipped name; "none": no flow'
    )
    paper_seed: int | None = Field(default=None, description="overrides the scenario's seed")
    paper_speed: float = Field(default=1.0, gt=0, description="simulated seconds of market flow per second")
    paper_settlement_delay_secs: float | None = Field(
        default=None,
        gt=0,
        description="fast settlement: every trade status step this long; unset: live-like "
        "(MINED ~20 s after the match, CONFIRMED ~60 s later)",
    )
    paper_live: bool = Field(
        default=False,
        description="paper trading on live books: the paper exchange mirrors the markets and books of the "
        "venue POLYDESK_GAMMA_URL / POLYDESK_MARKET_WS_URL name (unset: Polymarket's); orders stay on paper",
    )
    paper_collateral_usd: str = Field(
        default="10000", pattern=r"^\d+(\.\d+)?$", description="pUSD given to the paper wallet at start"
    )

    @field_validator("up_services", mode="before")
    @classmethod
    def _services(cls, value: Any) -> Any:
        value = parse_list(value)
        unknown = [s for s in value if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
        return value
