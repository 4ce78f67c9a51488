"""The bus contract: frozen, versioned msgspec Structs behind one envelope, and the (type, version) registry.

A stream entry carries `type` and `v` outside the payload and the message's JSON in `data`. A breaking
change adds a new class with the same TYPE and VERSION + 1 beside the old one; golden files under
tests/golden/ freeze every encoding.

Why msgspec and not pydantic (which settings and HTTP schemas keep): every message crosses the bus at least
once, and msgspec decodes a BookDelta about 2x and encodes it about 4x faster than pydantic's
model_validate_json / model_dump_json (bench/codec.py measures both in one run). The wire format is the
same. Types and domain bounds are checked when a message is built and when it is decoded alike
(shared/message_checks.py); a message that fails them cannot be built, and an entry that fails them is a
DecodeError with the field's name (dead-lettered by the consumer).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar, cast

import msgspec

from shared import clock
from shared.errors import DecodeError
from shared.message_checks import Bounds, CheckedMeta, Length, OneOf

# Domain bounds, checked wherever a message is built or decoded (issue 15: a tick of 0, a size of 1e30 and a
# book of 10^6 levels were valid messages, and crashed or swamped every consumer downstream).
# The venue's tick sizes (the SDK's TickSize; polymarket-protocol.md 5.1). Anything else is not a venue tick.
VENUE_TICKS = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))
# One order: more shares than this is a bug upstream, never a trade (10M shares is $10M at the top price).
MAX_ORDER_SIZE = Decimal(10_000_000)
# A book level, a fill, a position: well above any real market's depth, far below an absurd 1e30.
MAX_SIZE = Decimal(10) ** 12
# Levels per side of one token's book: the finest tick (0.0001) has 9,999 prices in (0, 1).
MAX_BOOK_LEVELS = 10_000
# Level changes in one BookDelta (a market's tokens, both sides).
MAX_DELTA_CHANGES = 4 * MAX_BOOK_LEVELS


# Money, prices and sizes: Decimal on the bus (always finite), encoded as JSON strings so no float creeps in.
Price = Annotated[Decimal, Bounds(ge=Decimal(0), le=Decimal(1))]  # a report of what happened (a trade...)
OrderPrice = Annotated[Decimal, Bounds(gt=Decimal(0), lt=Decimal(1))]  # a price to trade at, or a book level
Size = Annotated[Decimal, Bounds(ge=Decimal(0), le=MAX_SIZE)]
OrderSize = Annotated[Decimal, Bounds(gt=Decimal(0), le=MAX_ORDER_SIZE)]
Tick = Annotated[Decimal, OneOf(VENUE_TICKS, "tick size", "the venue's")]
Usd = Decimal


class _Frozen(msgspec.Struct, metaclass=CheckedMeta, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Frozen, keyword-only, no unknown fields; checked by __post_init__, which msgspec runs when a struct
    is built and when one is decoded."""

    _check: ClassVar[Callable[[Any], None]]

    def __post_init__(self) -> None:
        self._check()


class _MessageIds:
    """Message ids: a random 80-bit prefix per process, then a 48-bit counter (32 hex chars in all).

    Unique across processes and restarts by the prefix (drawn again in a forked child, which would otherwise
    repeat its parent's ids), within a process by the counter (2^48 ids: ~890 years at 10k/s). Not
    uuid4().hex: ingest makes an id per book delta, and a UUID object (a getrandom call and a UUID object)
    costs ~3.3 us where this costs ~0.3 us."""

    def __init__(self) -> None:
        self.restart()
        os.register_at_fork(after_in_child=self.restart)

    def restart(self) -> None:
        self.prefix = os.urandom(10).hex()
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


_IDS = _MessageIds()


def new_message_id() -> str:
    """A unique message id (32 hex chars; see _MessageIds)."""
    return _IDS.next()


def deterministic_id(*parts: str) -> str:
    """An id derived from its inputs, so a replayed cause yields the same id (32 hex chars)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "polydesk:" + "\x1f".join(parts)).hex


class Envelope(_Frozen, kw_only=True):  # kw_only: a required field follows optional ones
    """Who made a message, when, and why: every bus message carries exactly one."""

    message_id: str
    correlation_id: str  # the root cause: the first message of the chain this one belongs to
    causation_id: str | None = None  # the message that directly caused this one
    source_ts_ns: int  # when the underlying fact happened at its source (venue time when known)
    created_ts_ns: int  # when this message was built
    producer: str  # service name, e.g. "ingest"

    @classmethod
    def new(
        cls,
        producer: str,
        *,
        source_ts_ns: int | None = None,
        message_id: str | None = None,
        cause: Message | None = None,
    ) -> Envelope:
        """A fresh envelope; with `cause`, correlation is inherited and causation points at the cause."""
        now = clock.now_ns()
        message_id = message_id or new_message_id()
        if cause is None:
            correlation_id, causation_id = message_id, None
            source = now if source_ts_ns is None else source_ts_ns
        else:
            correlation_id = cause.envelope.correlation_id
            causation_id = cause.envelope.message_id
            source = cause.envelope.source_ts_ns if source_ts_ns is None else source_ts_ns
        return cls(
            message_id=message_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            source_ts_ns=source,
            created_ts_ns=now,
            producer=producer,
        )


class Message(_Frozen):
    """Base of every bus message: subclasses set TYPE and VERSION and are registered."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 0

    envelope: Envelope


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


class TradeStatus(StrEnum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


class OrderStatus(StrEnum):
    """Our view of one order's life; UNKNOWN means a post may or may not have reached the venue."""

    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"
    LIVE = "LIVE"
    DELAYED = "DELAYED"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class OrderEventKind(StrEnum):
    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"
    RECONCILED = "RECONCILED"


class PriceLevel(_Frozen):
    price: OrderPrice
    size: Size


class LevelChange(_Frozen):
    """One level's new total size (0 removes it) on one side of one token's book."""

    token_id: str
    side: Side  # BUY = bid side, SELL = ask side
    price: OrderPrice
    size: Size


class TokenInfo(_Frozen):
    token_id: str
    outcome: str


class MarketInfo(_Frozen, kw_only=True):  # kw_only: a required field follows optional ones
    """What the pipeline needs to know about one market (condition)."""

    condition_id: str
    question: str
    slug: str
    tokens: tuple[TokenInfo, ...]
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    event_slug: str | None = None
    tick_size: Tick
    min_order_size: OrderSize
    end_date_ts: int | None = None  # unix seconds
    volume_24h_usd: Usd = Decimal(0)
    liquidity_usd: Usd = Decimal(0)
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    fee_rate: Decimal = Decimal(0)
    fee_exponent: Decimal = Decimal(0)
    tags: tuple[str, ...] = ()


_MessageT = TypeVar("_MessageT", bound=type[Message])
REGISTRY: dict[tuple[str, int], type[Message]] = {}


def register(cls: _MessageT) -> _MessageT:
    """Class decorator: add a message class to the registry under (TYPE, VERSION), once."""
    key = (cls.TYPE, cls.VERSION)
    if not cls.TYPE or cls.VERSION < 1:
        raise TypeError(f"{cls.__name__} needs TYPE and VERSION >= 1")
    if key in REGISTRY:
        raise TypeError(f"message {key} registered twice ({REGISTRY[key].__name__}, {cls.__name__})")
    REGISTRY[key] = cls
    return cls


# ---- market data (ingest -> events:<shard>) ---------------------------------------------------------


@register
class BookSnapshot(Message):
    TYPE: ClassVar[str] = "book_snapshot"
    VERSION: ClassVar[int] = 1
    market: str
    token_id: str
    bids: Annotated[tuple[PriceLevel, ...], Length(max=MAX_BOOK_LEVELS)]  # best first
    asks: Annotated[tuple[PriceLevel, ...], Length(max=MAX_BOOK_LEVELS)]  # best first
    tick_size: Tick
    min_order_size: OrderSize | None = None
    neg_risk: bool = False
    venue_hash: str | None = None
    epoch: int = 0  # bumped by every resync and tick-size change


@register
class BookDelta(Message):
    TYPE: ClassVar[str] = "book_delta"
    VERSION: ClassVar[int] = 1
    market: str
    changes: Annotated[tuple[LevelChange, ...], Length(max=MAX_DELTA_CHANGES)]
    best_bid: dict[str, OrderPrice | None] = msgspec.field(default_factory=dict)  # token_id -> best bid after
    best_ask: dict[str, OrderPrice | None] = msgspec.field(default_factory=dict)
    epoch: int = 0


@register
class LastTrade(Message):
    TYPE: ClassVar[str] = "last_trade"
    VERSION: ClassVar[int] = 1
    market: str
    token_id: str
    price: Price
    size: Size
    side: Side  # the taker's side
    fee_rate_bps: Decimal = Decimal(0)
    transaction_hash: str | None = None


@register
class TradeSeen(Message, kw_only=True):  # kw_only: a required field follows optional ones
    """A trade by a watched wallet (for copy trading)."""

    TYPE: ClassVar[str] = "trade_seen"
    VERSION: ClassVar[int] = 1
    wallet: str
    market: str
    token_id: str
    side: Side
    size: Size
    price: Price
    outcome: str | None = None
    trade_key: str  # stable per trade: transaction hash + asset + side + size, as the venue gives
    transaction_hash: str | None = None
    traded_at_ts: int  # unix seconds


@register
class MarketDiscovered(Message):
    TYPE: ClassVar[str] = "market_discovered"
    VERSION: ClassVar[int] = 1
    market: MarketInfo


@register
class MarketUpdated(Message):
    TYPE: ClassVar[str] = "market_updated"
    VERSION: ClassVar[int] = 1
    market: MarketInfo
    changed: tuple[str, ...] = ()


@register
class MarketResolved(Message):
    TYPE: ClassVar[str] = "market_resolved"
    VERSION: ClassVar[int] = 1
    condition_id: str
    winning_token_id: str | None = None
    winning_outcome: str | None = None


@register
class TickSizeChanged(Message):
    TYPE: ClassVar[str] = "tick_size_changed"
    VERSION: ClassVar[int] = 1
    market: str
    token_id: str
    old_tick_size: Tick
    new_tick_size: Tick


class BookState(StrEnum):
    """Whether a token's book can be traded on. Anything but VALID halts strategy and risk on the token."""

    VALID = "valid"  # fresh: a snapshot of the current epoch and market data within the market's cadence
    STALE = (
        "stale"  # no market data for longer than the market's cadence; a REST probe tells quiet from frozen
    )
    RESYNCING = "resyncing"  # a new epoch (reconnect, tick size change): waiting for its snapshot
    GAP = "gap"  # a check failed (hash, best bid/ask, crossed): updates were missed, resyncing from REST


@register
class BookStatus(Message):
    """A change of one token's book state, published by ingest on the token's events stream."""

    TYPE: ClassVar[str] = "book_status"
    VERSION: ClassVar[int] = 1
    market: str
    token_id: str
    state: BookState
    reason: str = ""  # why it left VALID: hash_mismatch, stale, frozen_feed, tick_size_change, ...
    epoch: int = 0  # the book's epoch (BookSnapshot.epoch) the state applies to


@register
class AccountState(Message):
    """Balances and allowances as read on chain."""

    TYPE: ClassVar[str] = "account_state"
    VERSION: ClassVar[int] = 1
    wallet: str
    collateral_balance: Usd
    allowances: dict[str, Usd] = msgspec.field(default_factory=dict)  # spender name -> allowance
    token_balances: dict[str, Decimal] = msgspec.field(default_factory=dict)  # token_id -> shares
    block_number: int | None = None


@register
class ExternalSignal(Message, kw_only=True):  # kw_only: a required field follows optional ones
    """A fair probability for one token posted by an outside process or a person (the `signals` stream)."""

    TYPE: ClassVar[str] = "external_signal"
    VERSION: ClassVar[int] = 1
    market: str
    token_id: str | None = None
    probability: Price
    source: str
    expires_at_ts: int | None = None


class VerdictState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@register
class VerdictDecision(Message):
    """A person approves or rejects a held verdict (POLYDESK_VERDICT_APPROVAL=manual), on `signals`: from the
    control API, `polydesk approve/reject` or a notification button. Strategy applies it."""

    TYPE: ClassVar[str] = "verdict_decision"
    VERSION: ClassVar[int] = 1
    verdict_id: str  # the held ExternalSignal's message id
    approve: bool
    actor: str
    reason: str = ""


@register
class VerdictPending(Message, kw_only=True):  # kw_only: a required field follows optional ones
    """Strategy holds an external verdict until a person decides (on `verdicts`, for notifications)."""

    TYPE: ClassVar[str] = "verdict_pending"
    VERSION: ClassVar[int] = 1
    verdict_id: str
    market: str
    question: str = ""
    token_id: str
    probability: Price
    source: str
    expires_at_ts: float


@register
class VerdictDecided(Message):
    """A held verdict left the pending state: approved, rejected or expired (exactly once each)."""

    TYPE: ClassVar[str] = "verdict_decided"
    VERSION: ClassVar[int] = 1
    verdict_id: str
    state: VerdictState
    actor: str
    reason: str = ""


# ---- decisions (strategy -> intents -> risk -> approved_orders) --------------------------------------


@register
class OrderIntent(Message, kw_only=True):  # kw_only: a required field follows optional ones
    TYPE: ClassVar[str] = "order_intent"
    VERSION: ClassVar[int] = 1
    token_id: str
    side: Side
    size: OrderSize
    price: OrderPrice
    order_type: OrderType = OrderType.GTC
    reason: str
    strategy: str
    signal_key: str
    market: str
    post_only: bool = False
    must_fill: bool = False  # take the three-phase retry in the executor
    expiration_ts: int | None = None  # GTD only, unix seconds
    replaces_signal_key: str | None = None


@register
class CancelIntent(Message):
    TYPE: ClassVar[str] = "cancel_intent"
    VERSION: ClassVar[int] = 1
    strategy: str
    signal_key: str
    reason: str
    market: str | None = None
    client_order_ids: tuple[str, ...] = ()  # empty with market: cancel the strategy's orders in that market


@register
class CancelIntentV2(CancelIntent):
    """v2 adds `of_signal_key`: only the orders that signal produced (a requote pulls its own old quote)."""

    VERSION: ClassVar[int] = 2
    of_signal_key: str | None = None


class BasketLeg(_Frozen):
    market: str  # the leg's condition id
    token_id: str
    side: Side
    price: Price
    size: Size


@register
class BasketIntent(Message):
    """Orders that only make sense together (an arbitrage's full set): all legs or none.

    Risk judges the basket as one (one decision, every leg clamped by the same factor); the executor posts
    the legs together and either fills all of them (a leg may be completed at a worse price, within its
    price limit) or unwinds what was filled, within `basket_timeout_secs` (docs/execution.md)."""

    TYPE: ClassVar[str] = "basket_intent"
    VERSION: ClassVar[int] = 1
    strategy: str
    signal_key: str
    reason: str
    market: str  # what the basket is over: a condition id, or a neg-risk event id and side
    legs: Annotated[tuple[BasketLeg, ...], Length(min=2, max=15)]  # one POST /orders holds at most 15
    order_type: OrderType = OrderType.FOK


@register
class RiskDecision(Message, kw_only=True):  # kw_only: a required field follows optional ones
    TYPE: ClassVar[str] = "risk_decision"
    VERSION: ClassVar[int] = 1
    intent_id: str
    signal_key: str
    strategy: str
    approved: bool
    rule: str | None = None  # the rule that rejected, or that clamped an approval
    detail: str = ""
    numbers: dict[str, Decimal] = msgspec.field(default_factory=dict)
    requested_size: Size
    approved_size: Size = Decimal(0)
    dry_run: bool = False


@register
class ApprovedOrder(Message, kw_only=True):  # kw_only: a required field follows optional ones
    TYPE: ClassVar[str] = "approved_order"
    VERSION: ClassVar[int] = 1
    client_order_id: str  # deterministic from the intent: the executor's idempotency key
    intent_id: str
    signal_key: str
    strategy: str
    market: str
    token_id: str
    side: Side
    size: OrderSize
    price: OrderPrice
    price_limit: OrderPrice  # the worst price the executor may use in its retry phases
    order_type: OrderType
    post_only: bool = False
    must_fill: bool = False
    expiration_ts: int | None = None
    neg_risk: bool = False
    tick_size: Tick
    clamped_from_size: Size | None = None


class ApprovedBasketLeg(_Frozen):
    client_order_id: str  # deterministic from the basket intent and the leg's token
    market: str
    token_id: str
    side: Side
    size: Size
    price: Price
    price_limit: Price  # a leg that did not fill may be completed up to here
    tick_size: Decimal
    neg_risk: bool = False


@register
class ApprovedBasket(Message):
    TYPE: ClassVar[str] = "approved_basket"
    VERSION: ClassVar[int] = 1
    basket_id: str
    intent_id: str
    signal_key: str
    strategy: str
    market: str
    order_type: OrderType
    legs: Annotated[tuple[ApprovedBasketLeg, ...], Length(min=2, max=15)]
    clamped_from_size: Size | None = None  # every leg's requested size, when risk clamped the basket


@register
class ApprovedCancel(Message):
    """Cancel orders of `strategy` only: the named ones, or all of it in `market`."""

    TYPE: ClassVar[str] = "approved_cancel"
    VERSION: ClassVar[int] = 1
    signal_key: str
    strategy: str
    market: str | None = None
    client_order_ids: tuple[str, ...] = ()


@register
class ApprovedCancelV2(ApprovedCancel):
    """v2 adds `of_signal_key`: only the orders of `strategy` that this signal produced."""

    VERSION: ClassVar[int] = 2
    of_signal_key: str | None = None


# ---- execution reports (executor -> fills) -----------------------------------------------------------


@register
class OrderUpdate(Message, kw_only=True):  # kw_only: a required field follows optional ones
    TYPE: ClassVar[str] = "order_update"
    VERSION: ClassVar[int] = 1
    client_order_id: str | None = None
    order_id: str | None = None  # the venue's order hash
    kind: OrderEventKind
    status: OrderStatus
    market: str
    token_id: str
    side: Side
    price: Price
    original_size: Size
    size_matched: Size = Decimal(0)
    strategy: str | None = None
    reason: str = ""


@register
class Fill(Message, kw_only=True):  # kw_only: a required field follows optional ones
    TYPE: ClassVar[str] = "fill"
    VERSION: ClassVar[int] = 1
    trade_id: str
    status: TradeStatus
    order_id: str
    client_order_id: str | None = None
    strategy: str | None = None
    market: str
    token_id: str
    side: Side  # our side
    size: Size
    price: Price
    fee_usd: Usd = Decimal(0)
    is_maker: bool = False
    transaction_hash: str | None = None


@register
class PositionRedeemed(Message):
    """Resolved outcome tokens turned back into pUSD on chain (CTF redeemPositions), published by the executor
    on `fills`: the ledger sets the token's shares to 0 and adds the payout to cash (resolution already
    realized the PnL). Idempotent by (transaction_hash, token_id)."""

    TYPE: ClassVar[str] = "position_redeemed"
    VERSION: ClassVar[int] = 1
    market: str  # condition id
    token_id: str
    shares: Size  # shares burned
    payout_usd: Size  # pUSD received for them (shares x payout price: 1 for the winner, 0 for a loser)
    transaction_hash: str


# ---- control (risk, CLI -> control) ------------------------------------------------------------------


@register
class KillSwitchChanged(Message):
    TYPE: ClassVar[str] = "kill_switch_changed"
    VERSION: ClassVar[int] = 1
    active: bool
    reason: str
    actor: str  # "risk:auto", "cli", ...


@register
class CancelAllRequested(Message):
    TYPE: ClassVar[str] = "cancel_all_requested"
    VERSION: ClassVar[int] = 1
    reason: str
    market: str | None = None


@register
class KillSwitchCommand(Message):
    """A request to trip or release the kill switch (from `polydesk kill-switch`); risk applies it."""

    TYPE: ClassVar[str] = "kill_switch_command"
    VERSION: ClassVar[int] = 1
    active: bool
    reason: str
    actor: str  # "cli:<user>@<host>", ...


@register
class ShutdownNotice(Message):
    TYPE: ClassVar[str] = "shutdown_notice"
    VERSION: ClassVar[int] = 1
    service: str
    reason: str


# ---- encoding -----------------------------------------------------------------------------------------

DATA_FIELD = b"data"
TYPE_FIELD = b"type"
VERSION_FIELD = b"v"
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_T = TypeVar("_T", bound=_Frozen)


def to_json(message: _Frozen) -> bytes:
    """A message's JSON (the `data` of its stream entry; also how the executor stores an approval)."""
    return _ENCODER.encode(message)


def from_json(cls: type[_T], data: bytes | str) -> _T:
    """A message of class `cls` from its JSON; raises DecodeError with the reason (field path first)."""
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.json.Decoder(cls)
    try:
        return cast("_T", decoder.decode(data))
    except msgspec.DecodeError as error:  # ValidationError included: a type or a bound refused
        raise DecodeError(_reason(error)) from None


def to_builtins(message: _Frozen) -> dict[str, Any]:
    """A message as JSON-ready builtins (Decimal as str, enums as their values): for logs and tools."""
    return cast("dict[str, Any]", msgspec.to_builtins(message))


def replace(message: _T, **changes: Any) -> _T:
    """A copy of a message with some fields changed, checked like any new message."""
    return msgspec.structs.replace(message, **changes)


def field_names(cls: type[_Frozen]) -> tuple[str, ...]:
    return cls.__struct_fields__


def encode(message: Message) -> dict[bytes, bytes]:
    """The stream entry fields for a message: type and version outside the payload, JSON inside."""
    return {
        TYPE_FIELD: message.TYPE.encode(),
        VERSION_FIELD: str(message.VERSION).encode(),
        DATA_FIELD: _ENCODER.encode(message),
    }


def message_class(type_name: str, version: int) -> type[Message]:
    """The registered class for (type, version); raises DecodeError when none is registered."""
    try:
        return REGISTRY[(type_name, version)]
    except KeyError:
        raise DecodeError(f"unknown message type/version {type_name!r} v{version}") from None


def decode(fields: dict[bytes, bytes] | dict[str, Any]) -> Message:
    """Rebuild a message from stream entry fields; raises DecodeError with the reason."""
    # The hot path: an entry as Redis gives it, of a type and version seen before.
    raw = cast("dict[Any, Any]", fields)
    try:
        decoder = _BY_ENTRY.get((raw.get(TYPE_FIELD), raw.get(VERSION_FIELD)))
        data = raw.get(DATA_FIELD)
        if decoder is not None and data is not None:
            return cast("Message", decoder.decode(data))
    except (msgspec.DecodeError, TypeError):  # TypeError: an unhashable field, data not bytes or str
        pass  # the slow path says why
    return _decode_slowly(fields)


# (type field, v field) as Redis returns them -> the decoder of that registered message class.
_BY_ENTRY: dict[tuple[Any, Any], msgspec.json.Decoder[Any]] = {}


def _decode_slowly(fields: dict[bytes, bytes] | dict[str, Any]) -> Message:
    # Entries read from Redis have bytes keys; tests and tools may pass str keys.
    raw: dict[bytes, Any] = (
        cast("dict[bytes, Any]", fields)
        if TYPE_FIELD in fields or DATA_FIELD in fields
        else {(k.encode() if isinstance(k, str) else k): v for k, v in fields.items()}
    )
    try:
        type_name = _text(raw[TYPE_FIELD])
        version = int(_text(raw[VERSION_FIELD]))
        data = raw[DATA_FIELD]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as error:  # TypeError: a None or list value
        raise DecodeError(f"entry lacks a valid type/v/data field: {error!r}") from None
    cls = message_class(type_name, version)
    if not isinstance(data, bytes | str):
        raise DecodeError(f"invalid {type_name} v{version}: data is {type(data).__name__}, not JSON text")
    try:
        message = from_json(cls, data)
    except DecodeError as error:
        raise DecodeError(f"invalid {type_name} v{version}: {error}") from None
    if raw.get(TYPE_FIELD) == cls.TYPE.encode() and raw.get(VERSION_FIELD) == str(cls.VERSION).encode():
        _BY_ENTRY[(raw[TYPE_FIELD], raw[VERSION_FIELD])] = _DECODERS[cls]
    return message


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _reason(error: msgspec.DecodeError) -> str:
    """msgspec's "<what> - at `$.a[0].b`" as "a.0.b: <what>", the field first as pydantic wrote it."""
    text, _, where = str(error).partition(" - at `")
    path = where.rstrip("`").removeprefix("$").replace("[", ".").replace("]", "").strip(".")
    missing = text.removeprefix("Object missing required field `")
    if missing != text:  # the missing field is the last part of the path
        path, text = ".".join(p for p in (path, missing.rstrip("`")) if p), "Field required"
    if path and text.split(":", 1)[0].replace(".", "").replace("_", "").isalnum() and ": " in text:
        return f"{path}.{text}"  # our check named the field inside the struct at `path`
    return f"{path}: {text}" if path else text
