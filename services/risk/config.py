"""Settings of the risk layer (environment prefix POLYDESK_): the seed's hard limits, state and reconciliation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator

from shared.config import ServiceSettings, http_url, wallet_address

# Seconds an order's market must still have before it resolves, by strategy; "default" covers the rest.
DEFAULT_MIN_TIME_TO_RESOLUTION_SECS: dict[str, int] = {
    "copy": 4 * 3600,
    "market_making": 30 * 60,
    "arbitrage": 15 * 60,
    "default": 30 * 60,
}


class RiskSettings(ServiceSettings):
    """The risk service: every limit is in the unit its name ends with."""

    dry_run: bool = Field(default=True, description="log each intent and stop: nothing reaches the executor")
    max_trade_size_usd: Decimal = Field(default=Decimal(50), gt=0, description="larger orders are clamped")
    max_daily_loss_usd: Decimal = Field(
        default=Decimal(100),
        gt=0,
        description="today's realized + unrealized PnL below minus this trips the switch",
    )
    min_liquidity_usd: Decimal = Field(
        default=Decimal(1000), ge=0, description="a market's 24h volume at least"
    )
    min_time_to_resolution_secs: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MIN_TIME_TO_RESOLUTION_SECS),
        description='by strategy, JSON object; key "default" for the others',
    )
    max_per_market_notional_usd: Decimal = Field(
        default=Decimal(200), gt=0, description="own open BUY orders + position cost in one market"
    )
    dedup_window_secs: float = Field(
        default=300.0, ge=0, description="an approved signal key blocks repeats this long"
    )
    daily_reset_utc: str = Field(
        default="00:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="HH:MM UTC when the trading day starts",
    )
    risk_price_limit_bps: int = Field(
        default=200, ge=0, le=10_000, description="price limit of an approved order, away from its price"
    )
    risk_price_limit_min_ticks: int = Field(
        default=2,
        ge=0,
        le=100,
        description="price limit at least this many ticks away, so a must-fill order's "
        "three phases (one tick apart at least) fit at a coarse tick",
    )
    book_invalid_cancel_secs: float = Field(
        default=10.0,
        gt=0,
        description="resting orders on a market whose book stays not valid this long are cancelled",
    )
    risk_db_path: Path | None = Field(
        default=None, description="risk's SQLite file; unset: <state_dir>/risk.sqlite"
    )
    data_api_url: str | None = Field(
        default=None, description="Data API base URL for reconciling positions on start; unset: skipped"
    )
    reconcile_wallet_address: str | None = Field(
        default=None, description="the wallet (proxy/funder) whose positions are reconciled"
    )
    rpc_url: str | None = Field(
        default=None,
        description="Polygon JSON-RPC for the wallet's pUSD and CTF balances; unset: not compared",
    )
    risk_reconcile_interval_secs: float = Field(
        default=60.0, ge=0, description="how often the ledger is compared with the venue (0: on start only)"
    )
    risk_adopt_venue_on_start: bool = Field(
        default=False,
        description="on a restart, take the venue's positions and pUSD over the ledger's (after a deposit or a "
        "trade made outside polydesk; only with the executor stopped, nothing in flight); off: a ledger with "
        "history is kept and a difference reported, only an empty ledger adopts",
    )
    geoblock_url: str | None = Field(
        default=None,
        description="the venue's region check (https://polymarket.com/api/geoblock live); a "
        "close-only answer lets only reducing orders pass, blocked none; unset: not checked",
    )
    geoblock_check_secs: float = Field(default=300.0, gt=0, description="how often the region is checked")
    allow_self_trade: bool = Field(
        default=False, description="approve an intent that would cross one of our own resting orders"
    )

    @field_validator("data_api_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("reconcile_wallet_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return wallet_address(value)

    def db_path(self) -> Path:
        return self.risk_db_path or self.state_dir / "risk.sqlite"

    def min_secs_to_resolution(self, strategy: str) -> int:
        table = self.min_time_to_resolution_secs
        return table.get(strategy, table.get("default", DEFAULT_MIN_TIME_TO_RESOLUTION_SECS["default"]))

    def reset_minute_of_day(self) -> int:
        hours, minutes = self.daily_reset_utc.split(":")
        return int(hours) * 60 + int(minutes)
