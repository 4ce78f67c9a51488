"""Wire models of the Polymarket market channel (and REST /book), mirroring the venue field for field.

Numbers stay decimal strings as sent; `decode_market_frame` turns one WS frame (object or array) into
models through one discriminated union on `event_type`, or raises `MarketFrameError`;
`decode_market_frame_tolerant` does the same but sets aside items of an unknown event type (a venue
change) instead of failing the frame. Unknown fields are kept on the models (`model_extra`) so that
venue_changes.py can count them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from shared.messages import MAX_BOOK_LEVELS, VENUE_TICKS

# A non-negative decimal as the venue writes it ("0.49", "10500100", docs-style ".48"). Checked in the
# Rust validator so that the book code can parse prices without re-checking them.
DecStr = Annotated[str, StringConstraints(pattern=r"^(?:\d+(?:\.\d*)?|\.\d+)$")]
# A price: a DecStr between 0 and 1 inclusive ("0.49", ".48", "1", "1.000"). A price above 1 cannot be a
# Polymarket price and would fail the bus models after the book took it, so it is refused here.
PriceStr = Annotated[str, StringConstraints(pattern=r"^(?:0*1(?:\.0*)?|0+(?:\.\d*)?|\.\d+)$")]
Side = Literal["BUY", "SELL"]
# A size: a DecStr of at most 12 integer digits. A level of 1e30 shares is no venue's book (issue 15).
SizeStr = Annotated[str, StringConstraints(pattern=r"^(?:\d{1,12}(?:\.\d*)?|\.\d+)$")]


def _venue_tick(value: str) -> str:
    if Decimal(value) not in VENUE_TICKS:
        raise ValueError(f"tick size {value} is not one of the venue's")
    return value


# A tick size the venue uses (0.1 ... 0.0001): a tick of 0 once reached market making, which divided by it.
TickStr = Annotated[DecStr, AfterValidator(_venue_tick)]


class _Wire(BaseModel):
    # extra="allow": the venue adds fields over time; a new field must not dead-letter the feed, and is
    # kept (model_extra) so that it is counted and logged as a venue change.
    model_config = ConfigDict(frozen=True, extra="allow")
    VENUE_EXTRA: ClassVar[frozenset[str]] = frozenset()  # sent by the venue, not modelled: not news


class _Event(_Wire):
    # Timestamps are str-ms on the wire; some captures re-typed them to ints, so ints are turned back
    # into the same digits (they enter the book hash as text).
    model_config = ConfigDict(frozen=True, extra="allow", coerce_numbers_to_str=True)


class Level(_Wire):
    price: PriceStr
    size: SizeStr


class BookSummary(_Event):
    """A full book of one token: the WS `book` body and the REST `GET /book` response.

    Levels in wire order: bids ascending, asks descending (best level last).
    """

    market: str
    asset_id: str
    timestamp: str
    hash: str | None = None
    bids: tuple[Level, ...] = Field(max_length=MAX_BOOK_LEVELS)
    asks: tuple[Level, ...] = Field(max_length=MAX_BOOK_LEVELS)
    tick_size: TickStr | None = None
    min_order_size: DecStr | None = None
    neg_risk: bool | None = None
    last_trade_price: PriceStr | None = None


class BookMessage(BookSummary):
    event_type: Literal["book"]


class PriceChangeEntry(_Wire):
    """One changed level; `size` is the NEW total at that price ("0" removes the level)."""

    asset_id: str
    price: PriceStr
    size: SizeStr
    side: Side
    hash: str | None = None
    best_bid: PriceStr | None = None
    best_ask: PriceStr | None = None


class PriceChangeMessage(_Event):
    event_type: Literal["price_change"]
    market: str
    price_changes: tuple[PriceChangeEntry, ...]
    timestamp: str


class TickSizeChangeMessage(_Event):
    event_type: Literal["tick_size_change"]
    asset_id: str
    market: str
    old_tick_size: TickStr | None = None
    new_tick_size: TickStr
    timestamp: str


class LastTradePriceMessage(_Event):
    event_type: Literal["last_trade_price"]
    asset_id: str
    market: str
    price: PriceStr
    side: Side
    size: DecStr | None = None
    fee_rate_bps: str | None = None
    timestamp: str
    transaction_hash: str | None = None


class BestBidAskMessage(_Event):
    event_type: Literal["best_bid_ask"]
    market: str
    asset_id: str
    best_bid: PriceStr
    best_ask: PriceStr
    spread: DecStr | None = None
    timestamp: str


class EventMessage(_Wire):
    id: str
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    description: str | None = None


class NewMarketMessage(_Event):
    event_type: Literal["new_market"]
    id: str
    market: str
    question: str | None = None
    slug: str | None = None
    description: str | None = None
    assets_ids: tuple[str, ...] = ()  # sic: the venue spells it with an extra "s"
    outcomes: tuple[str, ...] = ()
    event_message: EventMessage | None = None
    timestamp: str
    tags: tuple[str, ...] = ()
    condition_id: str | None = None
    active: bool | None = None
    clob_token_ids: tuple[str, ...] = ()
    sports_market_type: str | None = None
    line: str | None = None
    game_start_time: str | None = None
    order_price_min_tick_size: TickStr | None = None
    group_item_title: str | None = None
    taker_base_fee: str | None = None
    fees_enabled: bool | None = None
    fee_schedule: dict[str, Any] | None = None


class MarketResolvedMessage(_Event):
    event_type: Literal["market_resolved"]
    id: str
    market: str
    assets_ids: tuple[str, ...] = ()
    winning_asset_id: str | None = None
    winning_outcome: str | None = None
    event_message: EventMessage | None = None
    timestamp: str
    tags: tuple[str, ...] = ()


MarketMessage = Annotated[
    BookMessage
    | PriceChangeMessage
    | TickSizeChangeMessage
    | LastTradePriceMessage
    | BestBidAskMessage
    | NewMarketMessage
    | MarketResolvedMessage,
    Field(discriminator="event_type"),
]

# Built once: constructing adapters is far slower than using them.
_ONE: TypeAdapter[MarketMessage] = TypeAdapter(MarketMessage)
_MANY: TypeAdapter[list[MarketMessage]] = TypeAdapter(list[MarketMessage])
_REST_BOOK: TypeAdapter[BookSummary] = TypeAdapter(BookSummary)


class MarketFrameError(ValueError):
    """A frame that is not valid market-channel JSON; carries the raw frame for the dead-letter stream."""

    def __init__(self, reason: str, raw: bytes | str | object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def _reason(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    prefix = f"{loc}: " if loc else ""
    if first["type"] == "json_invalid":
        return f"invalid JSON: {first['msg']}"
    if first["type"] == "union_tag_not_found":
        return f"{prefix}no event_type"
    if first["type"] == "union_tag_invalid":
        return f"{prefix}unknown event_type {first['ctx']['tag']!r}"
    if first["loc"][-1:] == ("price_changes",) and first["type"] == "missing":
        # The single-asset `changes`/flat shape the venue sent until 2025-09-15.
        return "legacy price_change format (pre-2025-09-15): no price_changes"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{prefix}{first['msg']}{more}"


def decode_market_frame(raw: bytes | str) -> list[MarketMessage]:
    """Decode one market-channel frame (a JSON object or an array of them) into wire models.

    Returns the messages in frame order. Raises MarketFrameError(reason, raw) for invalid JSON, an
    unknown or missing `event_type`, a missing field or a malformed number; nothing is half-decoded.
    """
    head = raw.lstrip()[:1]
    try:
        if head in (b"[", "["):
            return _MANY.validate_json(raw)
        return [_ONE.validate_json(raw)]
    except ValidationError as error:
        raise MarketFrameError(_reason(error), raw) from error


KNOWN_EVENT_TYPES = frozenset(
    {
        "book",
        "price_change",
        "tick_size_change",
        "last_trade_price",
        "best_bid_ask",
        "new_market",
        "market_resolved",
    }
)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    messages: list[MarketMessage]
    unknown: list[object] = field(default_factory=list)  # items with an event_type we do not know
    invalid: list[tuple[object, str]] = field(default_factory=list)  # (item, reason): refused, the rest kept


def decode_market_frame_tolerant(raw: bytes | str) -> DecodedFrame:
    """Like decode_market_frame, but one item at a time when the frame is an array: items of an unknown event
    type are set aside (`unknown`), items that fail validation (a tick size of 0, a size of 1e30...) are
    refused with their reason (`invalid`), and the others decoded. A frame that is not JSON, a single bad
    object, or an array with nothing valid in it still fails whole (MarketFrameError)."""
    try:
        return DecodedFrame(decode_market_frame(raw))
    except MarketFrameError as error:
        failure = error
    try:
        value = json.loads(raw)
    except ValueError:
        raise failure from None
    if not isinstance(value, list) and "unknown event_type" not in failure.reason:
        raise failure
    messages: list[MarketMessage] = []
    unknown: list[object] = []
    invalid: list[tuple[object, str]] = []
    for item in value if isinstance(value, list) else [value]:
        if (
            isinstance(item, dict)
            and isinstance(item.get("event_type"), str)
            and item["event_type"] not in KNOWN_EVENT_TYPES
        ):
            unknown.append(item)
            continue
        try:
            messages.append(_ONE.validate_python(item))
        except ValidationError as error:
            invalid.append((item, _reason(error)))
    if invalid and not messages and not unknown:
        raise MarketFrameError(invalid[0][1], raw)
    return DecodedFrame(messages, unknown, invalid)


def market_parts(message: BaseModel) -> list[BaseModel | None]:
    """The models of one message worth checking for new fields: itself, its first change or levels."""
    parts: list[BaseModel | None] = [message]
    if isinstance(message, PriceChangeMessage):
        parts += message.price_changes[:1]
    elif isinstance(message, BookSummary):
        parts += [*message.bids[:1], *message.asks[:1]]
    elif isinstance(message, NewMarketMessage | MarketResolvedMessage):
        parts.append(message.event_message)
    return parts


def decode_market_value(value: object) -> list[MarketMessage]:
    """Like decode_market_frame for an already-parsed JSON value (a dict or a list of dicts)."""
    try:
        if isinstance(value, list):
            return _MANY.validate_python(value)
        return [_ONE.validate_python(value)]
    except ValidationError as error:
        raise MarketFrameError(_reason(error), value) from error


def decode_rest_book(raw: bytes | str | dict[str, Any]) -> BookSummary:
    """Decode a REST `GET /book` response (the resync source); raises MarketFrameError."""
    try:
        if isinstance(raw, dict):
            return _REST_BOOK.validate_python(raw)
        return _REST_BOOK.validate_json(raw)
    except ValidationError as error:
        raise MarketFrameError(_reason(error), raw) from error
