"""Settings of the ingest layer (environment prefix POLYDESK_): venue URLs, discovery filters, feed,
watched wallets, chain reads and market sets."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.config import ServiceSettings, http_url, parse_list, wallet_address, ws_url

_List = Annotated[tuple[str, ...], NoDecode]


def parse_json_mapping(value: Any) -> Any:
    """A setting that is a mapping: a JSON object given as text (or already a dict)."""
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text else {}
    return value


class IngestSettings(ServiceSettings):
    """Where ingest reads from (production Polymarket by default; the paper exchange by URL) and what."""

    # ---- venue endpoints (one per Polymarket host; paper mode points them all at the paper exchange)
    clob_url: str = Field(default="https://clob.polymarket.com", description="CLOB REST (GET /book resyncs)")
    market_ws_url: str = Field(
        default="wss://ws-subscriptions-clob.polymarket.com/ws/market", description="market channel"
    )
    gamma_url: str = Field(default="https://gamma-api.polymarket.com", description="Gamma (discovery)")
    data_api_url: str = Field(
        default="https://data-api.polymarket.com", description="Data API (wallet trades)"
    )
    rpc_url: str | None = Field(
        default=None, description="Polygon JSON-RPC for balances; unset: no chain reads"
    )
    http_timeout_secs: float = Field(default=10.0, gt=0, description="timeout of each REST call")

    # ---- discovery (Gamma)
    discovery_slugs: _List = Field(default=(), description="market or event slugs to include")
    discovery_condition_ids: _List = Field(default=(), description="condition ids to include")
    discovery_tags: _List = Field(default=(), description="Gamma tag ids or slugs/labels to include")
    discovery_min_volume_24h_usd: float = Field(
        default=0.0, ge=0, description="markets with less 24h volume are left out"
    )
    discovery_min_liquidity_usd: float = Field(
        default=0.0, ge=0, description="markets with less liquidity are left out"
    )
    discovery_end_within_days: float | None = Field(default=None, gt=0, description="ends within N days")
    discovery_end_after_days: float = Field(default=0.0, ge=0, description="ends at least N days from now")
    discovery_refresh_secs: float = Field(
        default=300.0, gt=0, description="how often Gamma is read again for new or changed markets"
    )
    discovery_max_markets: int = Field(default=200, ge=1, description="cap, biggest 24h volume first")
    discovery_page_size: int = Field(default=100, ge=1, le=500, description="markets per Gamma page")

    # ---- market channel
    ws_max_assets_per_connection: int = Field(
        default=200,
        ge=1,
        description="tokens per market-channel connection; more tokens open more connections",
    )
    ws_ping_interval_secs: float = Field(
        default=10.0, gt=0, description="each market-channel connection sends PING this often"
    )
    ws_stale_after_secs: float = Field(default=30.0, gt=0, description="no frame and no PONG for this long")
    ws_backoff_base_secs: float = Field(
        default=0.5, gt=0, description="first wait before a reconnect; it doubles with each failure"
    )
    ws_backoff_max_secs: float = Field(default=30.0, gt=0, description="longest wait before a reconnect")
    book_stale_after_secs: float = Field(
        default=120.0, gt=0, description="longest silence of a token before its book is probed over REST"
    )
    freshness_floor_secs: float = Field(
        default=2.0, gt=0, description="shortest silence of a token before its book is probed over REST"
    )
    freshness_cadence_factor: float = Field(
        default=5.0, gt=1, description="a token is probed after this many of its usual gaps between events"
    )
    book_snapshot_timeout_secs: float = Field(
        default=5.0, gt=0, description="no WS book after subscribe: REST"
    )
    resync_min_interval_secs: float = Field(default=1.0, ge=0, description="per token")
    hash_check_every: int = Field(
        default=1, ge=1, description="check one in N of a token's book hashes against the rebuilt book"
    )

    # ---- watched wallets (copy trading)
    watched_wallets: _List = Field(default=(), description="proxy wallets whose trades become trade_seen")
    wallet_poll_secs: float = Field(
        default=5.0, gt=0, description="how often the watched wallets' trades are read"
    )
    wallet_overlap_secs: int = Field(default=300, ge=0, description="re-read window behind the cursor")
    wallet_page_size: int = Field(default=100, ge=1, le=500, description="trades per Data API page")

    # ---- chain reads
    account_wallet: str | None = Field(default=None, description="address whose balances are read on chain")
    chain_poll_secs: float = Field(
        default=30.0, gt=0, description="how often account_wallet's balances are read on chain"
    )

    # ---- market sets: shard -> rules ("*", "<condition id>", "<slug>", "tag:<t>", "event:<slug>")
    market_sets: Annotated[dict[str, tuple[str, ...]], NoDecode] = Field(
        default_factory=dict, description='JSON, e.g. {"politics": ["tag:politics"], "main": ["*"]}'
    )

    @field_validator(
        "discovery_slugs", "discovery_condition_ids", "discovery_tags", "watched_wallets", mode="before"
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("watched_wallets")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(wallet_address(w).lower() for w in value))

    @field_validator("clob_url", "gamma_url", "data_api_url", "rpc_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("market_ws_url")
    @classmethod
    def _ws(cls, value: str) -> str:
        return ws_url(value)

    @field_validator("account_wallet")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return wallet_address(value)

    @field_validator("market_sets", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        value = parse_json_mapping(value)
        if isinstance(value, dict):
            return {k: ([v] if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _sets_are_shards(self) -> IngestSettings:
        unknown = [name for name in self.market_sets if name not in self.shards]
        if unknown:
            raise ValueError(f"market_sets names shards not in POLYDESK_SHARDS: {', '.join(unknown)}")
        return self
