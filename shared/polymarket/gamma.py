"""Gamma transport (`GET /markets`, `GET /events`, offset pagination) and its wire models.

Field names mirror the venue (camelCase). Gamma is loose with types: `clobTokenIds` and `outcomes` are
JSON-encoded strings on the live API (real arrays in some copies), numbers arrive as numbers or strings,
so the models accept both and keep what they got.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import TransientVenueError
from shared.polymarket import gamma_fields
from shared.polymarket.http import PublicJsonClient
from shared.polymarket.venue_changes import CHANGES

log = logging.getLogger(__name__)

Num = float | int | str | None


def _json_list(value: Any) -> list[Any]:
    """A list from a real array, a JSON-encoded one, or comma-separated text; ValueError for anything else
    (a validator's TypeError would escape pydantic instead of skipping the market)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return [part.strip() for part in text.split(",") if part.strip()]
        except RecursionError:
            raise ValueError("JSON-encoded list nested too deep") from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")  # noqa: TRY004  (see the docstring)
    return value


class _Wire(BaseModel):
    # extra="allow": fields we do not model are kept so that unknown ones are reported (venue_changes.py).
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)
    VENUE_EXTRA: ClassVar[frozenset[str]] = frozenset()


class GammaTag(_Wire):
    VENUE_EXTRA: ClassVar[frozenset[str]] = gamma_fields.TAG_FIELDS
    id: str | None = None
    label: str | None = None
    slug: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class GammaEventRef(_Wire):
    VENUE_EXTRA: ClassVar[frozenset[str]] = gamma_fields.EVENT_REF_FIELDS
    id: str | None = None
    slug: str | None = None
    title: str | None = None
    ticker: str | None = None
    negRisk: bool | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class GammaMarket(_Wire):
    VENUE_EXTRA: ClassVar[frozenset[str]] = gamma_fields.MARKET_FIELDS
    id: str | None = None
    conditionId: str
    question: str = ""
    slug: str = ""
    outcomes: list[str] = Field(default_factory=list)
    clobTokenIds: list[str] = Field(default_factory=list)
    outcomePrices: list[str] = Field(default_factory=list)
    negRisk: bool = False
    negRiskMarketID: str | None = None
    endDate: str | None = None
    volume24hr: Num = None
    liquidity: Num = None
    liquidityNum: Num = None
    orderPriceMinTickSize: Num = None
    orderMinSize: Num = None
    active: bool = True
    closed: bool = False
    archived: bool = False
    acceptingOrders: bool | None = None
    enableOrderBook: bool | None = None
    feesEnabled: bool | None = None
    feeSchedule: dict[str, Any] | None = None
    events: list[GammaEventRef] = Field(default_factory=list)
    tags: list[GammaTag] = Field(default_factory=list)

    @field_validator("outcomes", "clobTokenIds", "outcomePrices", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return [str(v) for v in _json_list(value)]

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @field_validator("events", "tags", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        items = _json_list(value)
        return [({"label": v, "slug": v} if isinstance(v, str) else v) for v in items]


class GammaEvent(_Wire):
    VENUE_EXTRA: ClassVar[frozenset[str]] = gamma_fields.EVENT_FIELDS
    id: str | None = None
    slug: str = ""
    title: str = ""
    negRisk: bool = False
    negRiskMarketID: str | None = None
    markets: list[GammaMarket] = Field(default_factory=list)
    tags: list[GammaTag] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else str(value)


def decode_markets(payload: Any) -> tuple[list[GammaMarket], int]:
    """Markets of a `/markets` page (a list, or `{"markets": [...]}` from the keyset route); returns the
    valid ones and how many entries were skipped as invalid; raises TransientVenueError when the page is
    not a list."""
    items = payload.get("markets", payload.get("data", [])) if isinstance(payload, dict) else payload
    return _decode(items, GammaMarket)


def decode_events(payload: Any) -> tuple[list[GammaEvent], int]:
    """Like decode_markets for `/events`; raises TransientVenueError when the page is not a list."""
    items = payload.get("events", payload.get("data", [])) if isinstance(payload, dict) else payload
    return _decode(items, GammaEvent)


def _decode(items: Any, model: type[Any]) -> tuple[list[Any], int]:
    # A page that is not a list is an unreadable answer, not an empty page: an empty page would make
    # discovery drop every selected market. Raised like invalid JSON, so the poller backs off and retries.
    if items is None:
        items = []
    if not isinstance(items, list):
        raise TransientVenueError(f"gamma: expected a list of {model.__name__}, got {type(items).__name__}")
    out, bad = [], 0
    for item in items:
        try:
            decoded = model.model_validate(item)
        except ValidationError as error:
            bad += 1
            log.debug("gamma: skipped an invalid %s: %s", model.__name__, error.errors()[0]["msg"])
            continue
        out.append(decoded)
        _report_new_fields(decoded)
    return out, bad


def _report_new_fields(item: GammaMarket | GammaEvent) -> None:
    kind = "market" if isinstance(item, GammaMarket) else "event"
    parts: list[BaseModel | None] = [item, *item.tags[:1]]
    if isinstance(item, GammaMarket):
        parts += item.events[:1]
    else:
        for market in item.markets[:1]:
            _report_new_fields(market)
    CHANGES.check("gamma", kind, parts)


class GammaClient(PublicJsonClient):
    """Paged reads of Gamma. Raises TransientVenueError on transport errors and non-2xx answers (RateLimited
    on 429)."""

    name = "gamma"

    async def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        return await self.get_json(path, params)

    async def markets(
        self, params: list[tuple[str, str]], *, page_size: int = 100, max_items: int = 5000
    ) -> list[GammaMarket]:
        """Every market matching `params` (offset pagination until a short page or `max_items`)."""
        return await self._paged("/markets", params, decode_markets, page_size, max_items)

    async def events(
        self, params: list[tuple[str, str]], *, page_size: int = 100, max_items: int = 1000
    ) -> list[GammaEvent]:
        return await self._paged("/events", params, decode_events, page_size, max_items)

    async def _paged(
        self, path: str, params: list[tuple[str, str]], decode: Any, page_size: int, max_items: int
    ) -> list[Any]:
        out: list[Any] = []
        offset = 0
        while len(out) < max_items:
            page = await self._get(path, [*params, ("limit", str(page_size)), ("offset", str(offset))])
            items, bad = decode(page)
            self.skipped += bad
            out += items
            raw_count = len(items) + bad
            if raw_count < page_size:
                break
            offset += raw_count
        return out[:max_items]
