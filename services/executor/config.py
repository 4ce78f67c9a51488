"""Settings of the executor layer (environment prefix POLYDESK_): venue URLs, keys, store, phases, cadences.

The private key and the API secret/passphrase are SecretStr and may come from a file named by
POLYDESK_<NAME>_FILE; never from argv. The same settings run against production and the paper exchange:
only `clob_url` (and `user_ws_url`) differ.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from shared.config import ServiceSettings, http_url, ws_url
from shared.polymarket.geoblock import geoblock_url_for
from shared.polymarket.wallets import SignatureType, is_address, parse_signature_type

PRODUCTION_CLOB_URL = "https://clob.polymarket.com"
PRODUCTION_DATA_API_URL = "https://data-api.polymarket.com"
_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
# secp256k1's group order: a key must lie in [1, n - 1].
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class ExecutorSettings(ServiceSettings):
    """The executor service: signs, posts and tracks orders; decides nothing about what to trade."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (
        "redis_password",
        "private_key",
        "api_key",
        "api_secret",
        "api_passphrase",
    )

    clob_url: str = Field(
        default=PRODUCTION_CLOB_URL, description="CLOB REST base; anything else is a paper venue"
    )
    user_ws_url: str | None = Field(
        default=None, description="WebSocket base (…/ws/user is appended); unset: derived from clob_url"
    )
    private_key: SecretStr | None = Field(
        default=None, description="signing key (hex); or POLYDESK_PRIVATE_KEY_FILE"
    )
    signature_type: SignatureType = Field(
        default=SignatureType.EOA,
        description="0 EOA, 1 POLY_PROXY, 2 GNOSIS_SAFE, 3 DEPOSIT_WALLET (POLY_1271); "
        "a number or the name; checked against the wallet at start",
    )
    wallet_address: str | None = Field(
        default=None,
        validate_default=True,
        description="the funder (maker) wallet: the proxy / Safe / deposit wallet for types 1-3; "
        "unset for type 0: the signer's own address",
    )
    api_key: str | None = Field(
        default=None,
        description="CLOB API key; unset: derived or created (L1); "
        "a credential: redacted like the secret, or POLYDESK_API_KEY_FILE",
    )
    api_secret: SecretStr | None = Field(
        default=None,
        description="CLOB API secret; unset: derived or created (L1); or POLYDESK_API_SECRET_FILE",
    )
    api_passphrase: SecretStr | None = Field(
        default=None,
        description="CLOB API passphrase; unset: derived or created (L1); or POLYDESK_API_PASSPHRASE_FILE",
    )
    chain_id: int = Field(default=137, description="Polygon; the paper exchange signs for 137 too")
    executor_db_path: Path | None = Field(default=None, description="unset: <state_dir>/executor.sqlite")
    open_orders_on_start: Literal["adopt", "cancel"] = Field(
        default="adopt", description="what to do with open orders found on the venue at start"
    )
    phase2_offset_bps: int = Field(
        default=150,
        ge=0,
        le=10_000,
        description="phase 2 of a must-fill order: this far from the target price",
    )
    max_slippage_bps: int = Field(
        default=200,
        ge=0,
        le=10_000,
        description="phase 3 of a must-fill order: this far from the target price",
    )
    phase_min_step_ticks: int = Field(
        default=1,
        ge=1,
        le=100,
        description="each must-fill phase at least this many ticks worse than the last",
    )
    phase_wait_secs: float = Field(
        default=2.0, gt=0, description="a resting must-fill order gets this long before its next phase"
    )
    heartbeat_interval_secs: float = Field(
        default=5.0,
        gt=0,
        description="heartbeat to the venue this often (it cancels our orders after 10 s without)",
    )
    heartbeat_max_failures: int = Field(
        default=2, ge=1, description="consecutive failures that halt submission"
    )
    post_batch_max: int = Field(default=15, ge=1, le=15, description="orders per POST /orders")
    posts_in_flight: int = Field(
        default=4, ge=1, le=16, description="POSTs under way at once (the next batch is signed meanwhile)"
    )
    submit_timeout_secs: float = Field(
        default=10.0, gt=0, description="past this the post's outcome is UNKNOWN"
    )
    post_attempts: int = Field(
        default=6, ge=1, description="tries of a post refused before processing (429, 425)"
    )
    post_only_retry_secs: float = Field(
        default=5.0, gt=0, description="wait when the venue is in post-only mode"
    )
    max_posts_per_order: int = Field(
        default=10,
        ge=1,
        description="posts of the same signed order the venue shows no trace of, before it is "
        "final (rejected with that reason)",
    )
    unknown_grace_secs: float = Field(
        default=15.0,
        gt=0,
        description="an UNKNOWN order absent from the venue this long is posted again (the same signed order)",
    )
    reconcile_interval_secs: float = Field(
        default=10.0,
        gt=0,
        description="REST gap fill of trades and orders (user-stream reconnects are silent)",
    )
    executor_crash_after_post: bool = Field(
        default=False, description="TEST HOOK ONLY: exit(137) right after a post returns, before recording it"
    )
    basket_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        description="a basket's legs have this long to fill (phases included) before the "
        "filled ones are unwound",
    )
    basket_unwind_secs: float = Field(
        default=120.0,
        gt=0,
        description="how long an unwind keeps trying to sell, waiting for the bought "
        "legs to settle (MINED) first: it must outlast settlement, tens of seconds live",
    )
    basket_unwind_max_loss_bps: int = Field(
        default=1000,
        ge=0,
        le=10_000,
        description="an unwind sells no lower than this far below the price paid",
    )
    geoblock_url: str | None = Field(
        default=None,
        description="the region check (polymarket.com/api/geoblock, not an API host); unset: "
        "Polymarket's for production, <clob_url>/api/geoblock for a paper venue",
    )
    max_clock_skew_secs: float = Field(
        default=5.0, gt=0, description="preflight fails when the venue's /time is further off than this"
    )
    preflight_on_start: Literal["live", "always", "never"] = Field(
        default="live",
        description="run the venue preflight before trading: in live mode (production URL), always, or never",
    )
    smoke_token_id: str | None = Field(
        default=None, description="token `polydesk smoke` buys; unset: first market"
    )
    auto_redeem: bool | None = Field(
        default=None,
        description="redeem resolved positions on chain by itself; unset: on against a paper "
        "venue, off in production (`polydesk redeem` does it on demand)",
    )
    redeem_interval_secs: float = Field(
        default=30.0,
        gt=0,
        description="how often auto-redeem looks for "
        "resolved positions (Data API positions, then chain reads)",
    )
    redeem_receipt_timeout_secs: float = Field(
        default=120.0, gt=0, description="wait this long for a redemption's receipt before trying again later"
    )
    rpc_url: str | None = Field(
        default=None,
        description="Polygon JSON-RPC for redemptions and preflight's "
        "balance reads; unset: <clob_url>/rpc against a paper venue, none in production "
        "(redemption then needs it; preflight uses the SDK's)",
    )
    data_api_url: str | None = Field(
        default=None,
        description="Data API (the wallet's positions); unset: "
        "<clob_url>/data-api against a paper venue, else the production one",
    )

    @field_validator("max_slippage_bps")
    @classmethod
    def _beyond_phase2(cls, value: int, info: ValidationInfo) -> int:
        offset = info.data.get("phase2_offset_bps")
        if offset is not None and value <= offset:
            raise ValueError(
                f"must be larger than POLYDESK_PHASE2_OFFSET_BPS ({offset}): phase 3 goes past phase 2"
            )
        return value

    def db_path(self) -> Path:
        return self.executor_db_path or self.state_dir / "executor.sqlite"

    def is_production(self) -> bool:
        return self.clob_url.rstrip("/") == PRODUCTION_CLOB_URL

    def redeems_automatically(self) -> bool:
        return (not self.is_production()) if self.auto_redeem is None else self.auto_redeem

    def chain_rpc_url(self) -> str | None:
        return self.rpc_url or (None if self.is_production() else self.clob_url.rstrip("/") + "/rpc")

    def positions_url(self) -> str:
        if self.data_api_url:
            return self.data_api_url
        return PRODUCTION_DATA_API_URL if self.is_production() else self.clob_url.rstrip("/") + "/data-api"

    def effective_geoblock_url(self) -> str:
        return self.geoblock_url or geoblock_url_for(self.clob_url, PRODUCTION_CLOB_URL)

    @field_validator("signature_type", mode="before")
    @classmethod
    def _a_signature_type(cls, value: object) -> object:
        return parse_signature_type(value)

    @field_validator("wallet_address")
    @classmethod
    def _a_funder(cls, value: str | None, info: ValidationInfo) -> str | None:
        signature_type = info.data.get("signature_type")
        if value is None:
            if signature_type is not None and signature_type.needs_funder:
                raise ValueError(
                    f"required with POLYDESK_SIGNATURE_TYPE={int(signature_type)} "
                    f"({signature_type.name}): the funder wallet's address"
                )
            return None
        value = value.strip()
        if not is_address(value):
            raise ValueError("must be a 0x-prefixed 40-hex-digit address")
        return value

    @field_validator("clob_url")
    @classmethod
    def _http(cls, value: str) -> str:
        return http_url(value)

    @field_validator("user_ws_url")
    @classmethod
    def _ws(cls, value: str | None) -> str | None:
        return ws_url(value)

    @field_validator("private_key")
    @classmethod
    def _a_signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never quotes the value: a near-miss key is still a secret.
        if value is None:
            return None
        text = value.get_secret_value().strip()
        if not _PRIVATE_KEY.match(text) or not 0 < int(text.removeprefix("0x"), 16) < _CURVE_ORDER:
            raise ValueError("must be a secp256k1 private key: 64 hex digits (optionally 0x-prefixed)")
        return SecretStr(text)
