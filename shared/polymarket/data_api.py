"""Data API transport: a wallet's trades (`GET /trades?user=`, v1 camelCase, newest first, limit/offset)
and the wire model of one trade row. v2 snake_case rows (`/v2/trades`) decode into the same model."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import TransientVenueError
from shared.messages import MAX_SIZE
from shared.polymarket.http import PublicJsonClient

log = logging.getLogger(__name__)


class DataTrade(BaseModel):
    """One trade row. Numbers arrive as JSON numbers; kept as their text so Decimal sees what was sent."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    proxyWallet: str = Field(validation_alias=AliasChoices("proxyWallet", "proxy_wallet"))
    side: str
    asset: str = Field(validation_alias=AliasChoices("asset", "token_id"))
    conditionId: str = Field(validation_alias=AliasChoices("conditionId", "condition_id"))
    size: str
    price: str
    timestamp: int
    transactionHash: str | None = Field(
        default=None, validation_alias=AliasChoices("transactionHash", "transaction_hash")
    )
    outcome: str | None = None
    slug: str | None = None

    @field_validator("side")
    @classmethod
    def _side(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("BUY", "SELL"):
            raise ValueError(f"unknown side {value!r}")
        return upper

    @field_validator("timestamp", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        try:
            number = int(float(value))
        except (TypeError, OverflowError) as error:  # None, a list, 1e400: skip the row, never raise through
            raise ValueError(f"timestamp {value!r} is not a number of seconds") from error
        return number // 1000 if number > 10**11 else number  # tolerate ms

    @field_validator("size", "price")
    @classmethod
    def _decimal(cls, value: str, info: Any) -> str:
        # Checked here so that a bad row is skipped instead of failing trade_seen() in the poll loop.
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{info.field_name} {value!r} is not a decimal") from None
        limit = Decimal(1) if info.field_name == "price" else MAX_SIZE  # the bus messages' own bounds
        if not number.is_finite() or number < 0 or number > limit:
            raise ValueError(f"{info.field_name} {value!r} is out of range")
        return value


def decode_trades(payload: Any) -> tuple[list[DataTrade], int]:
    """Trade rows of a page (a list, or the v2 envelope `{"data": [...]}`); returns (valid, n_invalid).
    Raises TransientVenueError when the page is not a list (an unreadable answer, not an empty page)."""
    items = payload.get("data") if isinstance(payload, dict) else payload
    if items is not None and not isinstance(items, list):
        raise TransientVenueError(f"data api: expected a list of trades, got {type(items).__name__}")
    out, bad = [], 0
    for item in items or []:
        try:
            out.append(DataTrade.model_validate(item))
        except ValidationError as error:
            bad += 1
            log.debug("data api: skipped an invalid trade row: %s", error.errors()[0]["msg"])
    return out, bad


class DataApiClient(PublicJsonClient):
    """Reads of the public Data API. Raises TransientVenueError (RateLimited on 429)."""

    name = "data api"

    async def trades_page(self, user: str, *, limit: int = 100, offset: int = 0) -> list[DataTrade]:
        params = {"user": user, "limit": str(limit), "offset": str(offset), "takerOnly": "false"}
        trades, bad = decode_trades(await self.get_json("/trades", params))
        self.skipped += bad
        return trades

    async def trades_since(
        self, user: str, since_ts: int, *, page_size: int = 100, max_pages: int = 20
    ) -> list[DataTrade]:
        """A wallet's trades with timestamp >= since_ts, oldest first (pages until one reaches back past it)."""
        out: list[DataTrade] = []
        for page in range(max_pages):
            trades = await self.trades_page(user, limit=page_size, offset=page * page_size)
            out += [t for t in trades if t.timestamp >= since_ts]
            if len(trades) < page_size or any(t.timestamp < since_ts for t in trades):
                break
        out.sort(key=lambda t: t.timestamp)
        return out
