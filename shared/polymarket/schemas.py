"""Wire models of the Polymarket market channel (and REST /book), mirroring the venue field for field.

Numbers stay decimal strings as sent; `decode_market_frame` turns one WS frame (object or array) into
models through one discriminated union on `event_type`, or raises `MarketFrameError`;
`decode_market_frame_tolerant` does the same but sets aside items of an unknown event type (a venue
change) instead of failing the frame. Unknown fields are kept on the models (`model_extra`) so that
venue_changes.py can count them.

price_change, the channel's 10k/s message, is a msgspec Struct and is first decoded by msgspec: about 0.4x
pydantic's cost. That fast decoder accepts only frames of price_changes with exactly the modelled
fields, under patterns at least as strict as the pydantic ones; anything else (another event type, a
mixed array, an unknown field, an int timestamp, a malformed value) goes to the pydantic union as before,
whose mirror of price_change (_PriceChangeWire) gives the same reasons and keeps unknown fields. So both
decoders accept and refuse the same frames with the same results (tests/ingest/test_fast_decode.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec
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


class _PriceChangeEntryWire(_Wire):
    """PriceChangeEntry as pydantic validates it: the reasons for a malformed one, and unknown fields kept."""

    asset_id: str
    price: PriceStr
    size: SizeStr
    side: Side
    hash: str | None = None
    best_bid: PriceStr | None = None
    best_ask: PriceStr | None = None


class _PriceChangeWire(_Event):
    """PriceChangeMessage as pydantic validates it (see the module's docstring)."""

    event_type: Literal["price_change"]
    market: str
    price_changes: tuple[_PriceChangeEntryWire, ...]
    timestamp: str


class _Matching:
    """The texts seen to match one pattern, so that each distinct price or size is matched once (a market uses
    few of them; a msgspec pattern per field ran the regex on every value and cost more than pydantic)."""

    def __init__(self, pattern: str) -> None:
        self._pattern = re.compile(pattern)
        self.seen: set[str] = set()  # callers look here first: a set lookup costs less than a call

    def __call__(self, text: str) -> bool:
        if text in self.seen:
            return True
        if self._pattern.match(text) is None:
            return False
        if len(self.seen) >= 100_000:  # never let them pile up
            self.seen.clear()
        self.seen.add(text)
        return True


# The fast decoder's patterns: PriceStr's and SizeStr's with ASCII digits only and `\Z` for the end (Python's
# `$` also matches before a final newline, pydantic-core's Rust `$` does not). Never looser, so whatever they
# accept pydantic accepts too; what they refuse goes to pydantic, which decides as it always did.
_is_price = _Matching(r"^(?:0*1(?:\.0*)?|0+(?:\.[0-9]*)?|\.[0-9]+)\Z")
_is_size = _Matching(r"^(?:[0-9]{1,12}(?:\.[0-9]*)?|\.[0-9]+)\Z")


class _Fast(msgspec.Struct, frozen=True, forbid_unknown_fields=True, dict=True):
    """A wire model decoded by msgspec. Only a model that came through pydantic can carry fields the venue
    added (the fast decoder refuses them); those are kept as `model_extra`, where venue_changes.py looks."""

    VENUE_EXTRA: ClassVar[frozenset[str]] = frozenset()
    # None for the class; an instance with unknown fields has its own in its __dict__ (a property reading
    # __dict__ would make an instance dict for every message asked).
    model_extra: ClassVar[dict[str, Any] | None] = None


class PriceChangeEntry(_Fast, frozen=True):
    """One changed level; `size` is the NEW total at that price ("0" removes the level)."""

    asset_id: str
    price: str  # PriceStr (checked by _fast)
    size: str  # SizeStr (checked by _fast)
    side: Side
    hash: str | None = None
    best_bid: str | None = None  # PriceStr (checked by _fast)
    best_ask: str | None = None  # PriceStr (checked by _fast)


class PriceChangeMessage(_Fast, frozen=True):
    event_type: Literal["price_change"]  # a field, not a msgspec tag: a lone tagged Struct may omit its tag
    market: str
    price_changes: tuple[PriceChangeEntry, ...]
    timestamp: str


_FastT = TypeVar("_FastT", bound=_Fast)


def _with_extra(made: _FastT, wire: BaseModel) -> _FastT:
    if wire.model_extra:
        made.__dict__["model_extra"] = dict(wire.model_extra)
    return made


def _from_wire(wire: _PriceChangeWire) -> PriceChangeMessage:
    """The Struct of a price_change pydantic validated, its unknown fields (and its entries') kept."""
    entries = tuple(
        _with_extra(
            PriceChangeEntry(
                asset_id=e.asset_id,
                price=e.price,
                size=e.size,
                side=e.side,
                hash=e.hash,
                best_bid=e.best_bid,
                best_ask=e.best_ask,
            ),
            e,
        )
        for e in wire.price_changes
    )
    made = PriceChangeMessage(
        event_type=wire.event_type, market=wire.market, price_changes=entries, timestamp=wire.timestamp
    )
    _with_extra(made, wire)
    return made


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


_WireMessage = Annotated[
    BookMessage
    | _PriceChangeWire
    | TickSizeChangeMessage
    | LastTradePriceMessage
    | BestBidAskMessage
    | NewMarketMessage
    | MarketResolvedMessage,
    Field(discriminator="event_type"),
]
MarketMessage = (
    BookMessage
    | PriceChangeMessage
    | TickSizeChangeMessage
    | LastTradePriceMessage
    | BestBidAskMessage
    | NewMarketMessage
    | MarketResolvedMessage
)

# Built once: constructing adapters (and decoders) is far slower than using them.
_ONE: TypeAdapter[_WireMessage] = TypeAdapter(_WireMessage)
_MANY: TypeAdapter[list[_WireMessage]] = TypeAdapter(list[_WireMessage])
_REST_BOOK: TypeAdapter[BookSummary] = TypeAdapter(BookSummary)
_FAST_ONE = msgspec.json.Decoder(PriceChangeMessage)
_FAST_MANY = msgspec.json.Decoder(list[PriceChangeMessage])


def _message(wire: Any) -> MarketMessage:
    """One message pydantic validated, as the rest of the code knows it (price_change: the Struct)."""
    if isinstance(wire, _PriceChangeWire):
        return _from_wire(wire)
    message: MarketMessage = wire
    return message


def _fast(raw: bytes | str, many: bool) -> list[MarketMessage] | None:
    """The frame's messages when it holds only price_changes the fast decoder accepts; else None."""
    try:
        messages = list(_FAST_MANY.decode(raw)) if many else [_FAST_ONE.decode(raw)]
    except (msgspec.DecodeError, UnicodeEncodeError):  # a str with a lone surrogate cannot be UTF-8
        return None
    prices, sizes = _is_price.seen, _is_size.seen
    for message in messages:
        for e in message.price_changes:
            if not (
                (e.price in prices or _is_price(e.price))
                and (e.size in sizes or _is_size(e.size))
                and (e.best_bid is None or e.best_bid in prices or _is_price(e.best_bid))
                and (e.best_ask is None or e.best_ask in prices or _is_price(e.best_ask))
            ):
                return None
    return list(messages)


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
    many = head in (b"[", "[")
    fast = _fast(raw, many)
    if fast is not None:
        return fast
    try:
        if many:
            return [_message(wire) for wire in _MANY.validate_json(raw)]
        return [_message(_ONE.validate_json(raw))]
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
            messages.append(_message(_ONE.validate_python(item)))
        except ValidationError as error:
            invalid.append((item, _reason(error)))
    if invalid and not messages and not unknown:
        raise MarketFrameError(invalid[0][1], raw)
    return DecodedFrame(messages, unknown, invalid)


def market_parts(message: MarketMessage) -> list[Any]:
    """The models of one message worth checking for new fields: itself, its first change or levels."""
    parts: list[Any] = [message]
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
            return [_message(wire) for wire in _MANY.validate_python(value)]
        return [_message(_ONE.validate_python(value))]
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
