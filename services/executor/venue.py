"""The small venue interface the executor needs, and PolymarketVenue: polymarket-client's async secure client.

Every SDK/HTTP error is translated here into shared.errors (habit 7):
  429 -> RateLimited(retry_after);  425 restarting / 503 post-only or cancel-only -> TradingRestricted;
  a mutating request that may have been processed (5xx, read timeout, dropped connection, unreadable
  answer, our own submit timeout) -> UnknownOutcome;  the same on a read -> TransientVenueError;
  a connection never made -> TransientVenueError;  other 4xx -> VenueRejected.
The same code runs against production and the paper exchange; only the Environment's URLs differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal, Protocol

import httpx
from eth_account import Account
from polymarket import ApiKeyCreds, AsyncSecureClient
from polymarket.environments import PRODUCTION, Environment
from polymarket.errors import (
    OrderHeartbeatMismatchError,
    PolymarketError,
    RateLimitError,
    RequestRejectedError,
    TransportError,
    UnexpectedResponseError,
    UserInputError,
)
from polymarket.models.clob.orders import SignedOrder as SdkSignedOrder
from polymarket.streams import UserSpec

from services.executor import sdk_metadata, sdk_signing
from services.executor.order_hash import order_hash, recovers_to
from shared.errors import (
    ConfigurationError,
    PolydeskError,
    RateLimited,
    TransientVenueError,
    UnknownOutcome,
    VenueRejected,
)
from shared.messages import OrderType, Side
from shared.polymarket.clob_public import fetch_fee_schedule
from shared.polymarket.sdk_env import paper_environment, wallet_type_of
from shared.polymarket.wallets import SignatureType

log = logging.getLogger(__name__)

# EIP-712 verifying contracts of the V2 order (polymarket-protocol.md §2.4 / §6.1), the same on the paper venue.
STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
DEFAULT_RESTART_WAIT_SECS = 2.0
CENT = Decimal("0.01")
MARKET_TAKER_UNIT = 100  # base units: a market order's taker amount has at most 4 decimals
MARKET_BUY_TRIES = 50

# Venue error text -> the SDK's rejection code (polymarket-protocol.md §1.4), for refusals that come back as
# an HTTP 4xx instead of a `success: false` body.
REJECTION_CODES: dict[str, str] = {
    "the market is not yet ready to process new orders": "market_not_ready",
    "invalid nonce": "invalid_nonce",
    "invalid expiration": "invalid_expiration",
    "invalid post-only order: order crosses book": "post_only_would_cross",
    "post-only mode: only post-only orders and cancels are allowed": "post_only_mode",
    "FOK orders are fully filled or killed": "fok_not_filled",
    "FAK orders are partially filled or killed": "fak_not_filled",
    "not enough balance / allowance": "not_enough_balance",
    "INVALID_ORDER_DUPLICATED": "duplicated",
}


class TradingRestricted(RateLimited):
    """The venue refused before processing because of a trading restriction (425 restart, 503 post-only)."""

    def __init__(self, message: str, retry_after_secs: float, restriction: str) -> None:
        super().__init__(message, retry_after_secs)
        self.restriction = restriction  # "restarting", "post_only", "cancel_only"


class Rejected(VenueRejected):
    """A definitive refusal, with the venue's machine code when it gave one (e.g. fok_not_filled)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or "unknown"


@dataclass(frozen=True)
class OrderRequest:
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiration_ts: int | None = None
    neg_risk: bool = False
    # What discovery told us about the market (via the approval): handed to the SDK before it signs, so it
    # never reads /markets-by-token or /clob-markets on the way to a POST (sdk_metadata.py). Unset: it asks.
    market: str = ""
    tick_size: Decimal | None = None
    fee: tuple[Decimal, Decimal] | None = None


@dataclass(frozen=True)
class SignedOrder:
    order_hash: str  # computed locally: the venue's order id
    body: dict[str, Any]  # the order as it goes on the wire (stored for audit)
    request: OrderRequest
    native: Any = None  # the SDK's signed order


@dataclass(frozen=True)
class PostResult:
    order_hash: str
    accepted: bool
    status: str = ""  # live / matched / delayed when accepted
    making_amount: Decimal = Decimal(0)
    taking_amount: Decimal = Decimal(0)
    trade_ids: tuple[str, ...] = ()
    code: str = ""  # rejection code when not accepted
    message: str = ""
    sent_ns: int = 0  # time.time_ns() as the POST carrying it was handed to the HTTP client


@dataclass(frozen=True)
class VenueOrder:
    id: str
    status: str  # LIVE, MATCHED, CANCELED...
    market: str
    token_id: str
    side: str
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    order_type: str = "GTC"
    kind: str = "RECONCILED"  # PLACEMENT / UPDATE / CANCELLATION on the user stream


@dataclass(frozen=True)
class MakerFill:
    order_id: str
    owner: str
    side: str
    token_id: str
    price: Decimal
    size: Decimal


@dataclass(frozen=True)
class VenueTrade:
    id: str
    status: str  # MATCHED, MINED, CONFIRMED, RETRYING, FAILED
    market: str
    token_id: str
    side: str  # the taker's side
    price: Decimal
    size: Decimal
    taker_order_id: str
    trader_side: str | None
    owner: str
    transaction_hash: str | None
    fee_rate_bps: Decimal
    makers: tuple[MakerFill, ...]


@dataclass(frozen=True)
class CancelResult:
    canceled: tuple[str, ...]
    not_canceled: dict[str, str]


class Venue(Protocol):
    """What the executor asks of an exchange. PolymarketVenue is the real one; tests add fakes."""

    api_key: str

    async def sign(self, request: OrderRequest) -> SignedOrder: ...
    def restore(self, order_hash: str, body: dict[str, Any], request: OrderRequest) -> SignedOrder: ...
    async def post_orders(self, batch: Sequence[SignedOrder]) -> list[PostResult]: ...
    async def cancel(self, order_ids: Sequence[str]) -> CancelResult: ...
    async def cancel_all(self) -> CancelResult: ...
    async def cancel_market(self, market: str) -> CancelResult: ...
    async def open_orders(self) -> list[VenueOrder]: ...
    async def order(self, order_id: str) -> VenueOrder | None: ...
    async def trades(self) -> list[VenueTrade]: ...
    async def heartbeat(self, heartbeat_id: str) -> str: ...
    def user_events(self) -> AsyncIterator[VenueOrder | VenueTrade]: ...
    async def close(self) -> None: ...


# ---- hashing --------------------------------------------------------------------------------------------


def market_buy_amount(size: Decimal, price: Decimal) -> Decimal:
    """pUSD a market BUY of `size` shares at most at `price` spends: the notional rounded down to the cent
    (a market order's maker amount has at most 2 decimals), so it never buys more than `size`."""
    return (size * price).quantize(CENT, rounding=ROUND_DOWN)


def from_wire_body(body: dict[str, Any]) -> SdkSignedOrder:
    """The SDK's signed order back from its stored wire body (the inverse of wire_body): the very same
    signature and hash, for re-posting an order instead of signing a new one."""
    return SdkSignedOrder(
        salt=int(body["salt"]),
        maker=body["maker"],
        signer=body["signer"],
        token_id=body["tokenId"],
        maker_amount=int(body["makerAmount"]),
        taker_amount=int(body["takerAmount"]),
        side=body["side"],
        expiration=int(body["expiration"]),
        signature_type=int(body["signatureType"]),
        timestamp=int(body["timestamp"]),
        metadata=body["metadata"],
        builder=body["builder"],
        signature=body["signature"],
        order_type=body["orderType"],
        post_only=bool(body.get("postOnly", False)),
    )


def wire_body(order: SdkSignedOrder) -> dict[str, Any]:
    """The order part of the POST body, as polymarket-client serializes it."""
    return {
        "salt": order.salt,
        "maker": order.maker,
        "signer": order.signer,
        "tokenId": order.token_id,
        "makerAmount": str(order.maker_amount),
        "takerAmount": str(order.taker_amount),
        "side": order.side,
        "expiration": str(order.expiration),
        "signatureType": order.signature_type,
        "timestamp": str(order.timestamp),
        "metadata": order.metadata,
        "builder": order.builder,
        "signature": order.signature,
        "orderType": order.order_type,
        "postOnly": order.post_only,
    }


# ---- error translation ----------------------------------------------------------------------------------

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def translate(error: BaseException, *, mutating: bool) -> PolydeskError:
    """The shared.errors equivalent of an SDK / transport error (see the module docstring)."""
    if isinstance(error, PolydeskError):
        return error
    if isinstance(error, RateLimitError):
        return RateLimited(str(error), error.retry_after if error.retry_after is not None else 1.0)
    if isinstance(error, OrderHeartbeatMismatchError):
        return TransientVenueError(f"heartbeat id mismatch (expected {error.heartbeat_id!r})")
    if isinstance(error, RequestRejectedError):
        if error.restriction in ("restarting", "post_only", "cancel_only"):
            wait = error.retry_after if error.retry_after is not None else DEFAULT_RESTART_WAIT_SECS
            return TradingRestricted(f"{error.status} {error}", wait, error.restriction)
        if error.status >= 500 or error.status in (408, 0):
            message = f"HTTP {error.status}: {error}"
            return UnknownOutcome(message) if mutating else TransientVenueError(message)
        return Rejected(f"HTTP {error.status}: {error}", error.code)
    if isinstance(error, TransportError):
        if isinstance(error.__cause__, _NEVER_SENT):
            return TransientVenueError(f"not sent: {error}")
        return (
            UnknownOutcome(f"transport: {error}") if mutating else TransientVenueError(f"transport: {error}")
        )
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return (
            UnknownOutcome("timed out waiting for the venue")
            if mutating
            else TransientVenueError("timed out")
        )
    if isinstance(error, UnexpectedResponseError):
        return UnknownOutcome(f"unreadable answer: {error}") if mutating else TransientVenueError(str(error))
    if isinstance(error, PolymarketError):  # UserInputError, SigningError...: our order is wrong
        return Rejected(f"{type(error).__name__}: {error}", "invalid_order")
    return (
        UnknownOutcome(f"{type(error).__name__}: {error}") if mutating else TransientVenueError(repr(error))
    )


# ---- the real venue -------------------------------------------------------------------------------------


class PolymarketVenue:
    """The executor's venue over polymarket-client's AsyncSecureClient (production or paper URLs)."""

    def __init__(
        self,
        client: AsyncSecureClient,
        *,
        chain_id: int,
        submit_timeout_secs: float,
        clob_url: str = "https://clob.polymarket.com",
    ) -> None:
        self.client = client
        sdk_signing.install(client)
        self.api_key = client.credentials.key
        self.chain_id = chain_id
        self.submit_timeout_secs = submit_timeout_secs
        self.clob_url = clob_url.rstrip("/")

    async def fee_schedule(self, condition_id: str) -> tuple[Decimal, Decimal]:
        """The market's taker fee (rate, exponent) from the public `/clob-markets/{condition_id}`."""
        return await fetch_fee_schedule(self.clob_url, condition_id, timeout_secs=self.submit_timeout_secs)

    def secrets(self) -> tuple[str, ...]:
        """The API credentials in use (derived ones too), for the log scrubber."""
        return (
            self.client.credentials.key,
            self.client.credentials.secret,
            self.client.credentials.passphrase,
        )

    async def _call(self, operation, *, mutating: bool, timeout: float | None = None):
        try:
            return await asyncio.wait_for(operation, timeout or self.submit_timeout_secs)
        except (PolymarketError, httpx.HTTPError, TimeoutError) as error:
            raise translate(error, mutating=mutating) from error

    async def sign(self, request: OrderRequest) -> SignedOrder:
        """A GTC/GTD order through the SDK's limit path; a FOK/FAK through its market-order path, whose amounts
        follow the venue's market-order precision (maker 2 decimals, taker 4) that a limit-signed order
        breaks (e.g. 7.33 x 0.57 = 4.1781 pUSD)."""
        if request.market and request.tick_size is not None:
            sdk_metadata.prime(
                self.client,
                market=request.market,
                token_id=request.token_id,
                tick_size=request.tick_size,
                neg_risk=request.neg_risk,
                fee=request.fee,
            )
        sdk_signing.LAST_DIGEST.set(None)
        try:
            if request.order_type in (OrderType.FOK, OrderType.FAK):
                native = await self._sign_market(request)
            else:
                native = await self.client.create_limit_order(
                    asset_id=request.token_id,
                    price=str(request.price),
                    size=str(request.size),
                    side=request.side.value,
                    post_only=request.post_only,
                    expiration=request.expiration_ts if request.order_type is OrderType.GTD else None,
                )
        except (PolymarketError, httpx.HTTPError) as error:
            raise translate(error, mutating=False) from error
        # The digest just signed is the venue's order id (None: a deposit wallet, signed the SDK's way).
        digest = sdk_signing.LAST_DIGEST.get()
        order_id = digest if digest is not None else self._hash_of(native, request.neg_risk)
        return SignedOrder(order_id, wire_body(native), request, native)

    async def _sign_market(self, request: OrderRequest) -> SdkSignedOrder:
        """BUY: spend size x price (down to the cent) at most at `price`; SELL: `size` shares at least at
        `price`. The limit price bounds the fill, as it did for the limit-signed FOK/FAK."""
        order_type: Literal["FOK", "FAK"] = "FOK" if request.order_type is OrderType.FOK else "FAK"
        if request.side is Side.BUY:
            amount = market_buy_amount(request.size, request.price)
            for _ in range(MARKET_BUY_TRIES):
                native = await self.client.create_market_order(
                    asset_id=request.token_id,
                    side="BUY",
                    amount=str(amount),
                    max_price=str(request.price),
                    order_type=order_type,
                )
                # polymarket-client 0.14.0 rounds a market BUY's shares to the tick's amount decimals (5 on a
                # 0.001 tick), but the venue takes at most 4 for market orders (py-clob-client-v2 #99 reports
                # the live refusal): spend a cent less until the shares come out with 4 decimals.
                if native.taker_amount % MARKET_TAKER_UNIT == 0 or amount <= CENT:
                    return native
                amount -= CENT
            return native
        return await self.client.create_market_order(
            asset_id=request.token_id,
            side="SELL",
            shares=str(request.size),
            min_price=str(request.price),
            order_type=order_type,
        )

    def restore(self, order_hash: str, body: dict[str, Any], request: OrderRequest) -> SignedOrder:
        """A committed order as it was signed (same salt, signature and hash), ready to be posted again."""
        return SignedOrder(order_hash, body, request, from_wire_body(body))

    def _hash_of(self, native: SdkSignedOrder, neg_risk: bool) -> str:
        preferred = NEG_RISK_EXCHANGE if neg_risk else STANDARD_EXCHANGE
        candidates = [
            (preferred, "2"),
            (STANDARD_EXCHANGE if neg_risk else NEG_RISK_EXCHANGE, "2"),
            (EXCHANGE_V3, "3"),
        ]
        if native.signature_type == 3:  # ERC-1271 wrapper: no plain ECDSA to check against
            return order_hash(native, verifying_contract=preferred, chain_id=self.chain_id)
        for contract, version in candidates:
            digest = order_hash(native, verifying_contract=contract, chain_id=self.chain_id, version=version)
            if recovers_to(digest, native.signature, native.signer):
                return digest
        raise Rejected("signed order matches no known exchange domain", "invalid_order")

    async def post_orders(self, batch: Sequence[SignedOrder]) -> list[PostResult]:
        natives = [s.native for s in batch]
        sent_ns = time.time_ns()
        if len(natives) == 1:
            try:
                responses = (await self._call(self.client.post_order(natives[0]), mutating=True),)
            except Rejected as rejected:  # a single post answers a refusal with a 4xx
                return [
                    PostResult(
                        batch[0].order_hash,
                        False,
                        code=_code_of(rejected),
                        message=str(rejected),
                        sent_ns=sent_ns,
                    )
                ]
        else:
            responses = await self._call(self.client.post_orders(natives), mutating=True)
        results = []
        for signed, response in zip(batch, responses, strict=True):
            if response.ok:
                if response.order_id.lower() != signed.order_hash.lower():
                    log.error(
                        "venue order id %s differs from the local hash %s",
                        response.order_id,
                        signed.order_hash,
                    )
                results.append(
                    PostResult(
                        signed.order_hash,
                        True,
                        response.status,
                        response.making_amount,
                        response.taking_amount,
                        tuple(response.trade_ids),
                        sent_ns=sent_ns,
                    )
                )
            else:
                results.append(
                    PostResult(
                        signed.order_hash,
                        False,
                        code=_batch_code(response.code, response.message),
                        message=response.message,
                        sent_ns=sent_ns,
                    )
                )
        return results

    async def cancel(self, order_ids: Sequence[str]) -> CancelResult:
        response = await self._call(self.client.cancel_orders(order_ids=list(order_ids)), mutating=True)
        return CancelResult(tuple(response.canceled), dict(response.not_canceled))

    async def cancel_all(self) -> CancelResult:
        response = await self._call(self.client.cancel_all(), mutating=True)
        return CancelResult(tuple(response.canceled), dict(response.not_canceled))

    async def cancel_market(self, market: str) -> CancelResult:
        response = await self._call(self.client.cancel_market_orders(market=market), mutating=True)
        return CancelResult(tuple(response.canceled), dict(response.not_canceled))

    async def open_orders(self) -> list[VenueOrder]:
        async def fetch() -> list[Any]:
            return [o async for o in self.client.list_open_orders().iter_items()]

        return [_venue_order(o) for o in await self._call(fetch(), mutating=False)]

    async def order(self, order_id: str) -> VenueOrder | None:
        try:
            return _venue_order(await self._call(self.client.get_order(order_id=order_id), mutating=False))
        except Rejected as rejected:
            if "404" in str(rejected) or "not found" in str(rejected).lower():
                return None
            raise

    async def trades(self) -> list[VenueTrade]:
        async def fetch() -> list[Any]:
            return [t async for t in self.client.list_account_trades().iter_items()]

        return [_venue_trade(t) for t in await self._call(fetch(), mutating=False)]

    async def heartbeat(self, heartbeat_id: str) -> str:
        try:
            reply = await self._call(
                self.client.send_order_heartbeat(heartbeat_id=heartbeat_id), mutating=False
            )
        except TransientVenueError as error:
            cause = error.__cause__
            if isinstance(cause, OrderHeartbeatMismatchError):  # retry at once with the id the venue expects
                reply = await self._call(
                    self.client.send_order_heartbeat(heartbeat_id=cause.heartbeat_id), mutating=False
                )
            else:
                raise
        return reply.heartbeat_id

    async def user_events(self) -> AsyncIterator[VenueOrder | VenueTrade]:
        """Own order and trade events; ends (raises TransientVenueError) when the stream does."""
        try:
            handle = await self.client.subscribe(UserSpec())
        except (PolymarketError, OSError) as error:
            raise translate(error, mutating=False) from error
        try:
            async for event in handle:
                if event.type == "order":
                    yield _venue_order(event.payload, kind=event.payload.order_event_type)
                elif event.type == "trade":
                    yield _venue_trade(event.payload)
        except PolymarketError as error:
            raise translate(error, mutating=False) from error
        finally:
            with contextlib.suppress(Exception):
                await handle.close()

    async def close(self) -> None:
        await self.client.close()


def wallet_mismatch(expected: SignatureType, seen: str | None, wallet: str, signer: str) -> str:
    """Why the configured signature type and funder do not fit the signing key (one line, no secrets)."""
    what = {
        SignatureType.EOA: "the signer's own address",
        SignatureType.POLY_PROXY: "the signer's proxy wallet",
        SignatureType.GNOSIS_SAFE: "the signer's Safe",
        SignatureType.DEPOSIT_WALLET: "the signer's deposit wallet",
    }[expected]
    seen_as = {None: "no wallet derived from it", "EOA": "the signer's own address"}.get(
        seen, f"its {seen} wallet"
    )
    return (
        f"POLYDESK_SIGNATURE_TYPE={int(expected)} ({expected.name}) needs POLYDESK_WALLET_ADDRESS to be {what}, "
        f"but {wallet} is {seen_as} (signer {signer})"
    )


def _code_of(rejected: Rejected) -> str:
    """The SDK's rejection code for a 4xx refusal of a single post (its message text is the venue's)."""
    text = str(rejected).split(": ", 1)[-1]
    for fragment, code in REJECTION_CODES.items():
        if fragment in text:
            return code
    return rejected.code


def _batch_code(code: str, message: str) -> str:
    """The SDK's code of a refused order in a batch; it has none for a duplicated hash, so read the text."""
    if code == "unknown" and "INVALID_ORDER_DUPLICATED" in (message or ""):
        return "duplicated"
    return code


def _venue_order(o: Any, kind: str = "RECONCILED") -> VenueOrder:
    return VenueOrder(
        id=o.id,
        status=str(getattr(o, "status", "") or ""),
        market=o.condition_id,
        token_id=o.asset_id,
        side=o.side,
        price=o.price,
        original_size=o.original_size,
        size_matched=o.size_matched,
        order_type=str(getattr(o, "order_type", "") or "GTC"),
        kind=kind,
    )


def _venue_trade(t: Any) -> VenueTrade:
    status = str(t.status).removeprefix("TRADE_STATUS_")
    makers = tuple(
        MakerFill(m.order_id, m.owner, m.side, m.asset_id, m.price, m.matched_amount)
        for m in (t.maker_orders or ())
    )
    return VenueTrade(
        id=t.id,
        status="MATCHED" if status == "MATCHED_NOT_BROADCASTED" else status,
        market=t.condition_id,
        token_id=t.asset_id,
        side=t.side,
        price=t.price,
        size=t.size,
        taker_order_id=t.taker_order_id,
        trader_side=t.trader_side,
        owner=t.owner,
        transaction_hash=t.transaction_hash,
        fee_rate_bps=t.fee_rate_bps or Decimal(0),
        makers=makers,
    )


def sdk_environment(settings: Any) -> Environment:
    """Production's URLs, or every URL on `clob_url` (paper)."""
    if settings.is_production():
        return PRODUCTION
    return paper_environment(settings.clob_url, settings.user_ws_url, chain_id=settings.chain_id)


async def connect(settings: Any) -> PolymarketVenue:
    """Build the client from ExecutorSettings: production URLs, or every URL on `clob_url` (paper)."""

    if settings.private_key is None:
        raise ConfigurationError("POLYDESK_PRIVATE_KEY (or POLYDESK_PRIVATE_KEY_FILE) is required")
    environment = sdk_environment(settings)
    credentials = None
    if settings.api_key and settings.api_secret and settings.api_passphrase:
        credentials = ApiKeyCreds(
            key=settings.api_key,
            secret=settings.api_secret.get_secret_value(),
            passphrase=settings.api_passphrase.get_secret_value(),
        )
    key = settings.private_key.get_secret_value()
    signer = Account.from_key(key).address
    wallet = settings.wallet_address
    if wallet is None and settings.signature_type == SignatureType.EOA:
        wallet = signer
    expected = SignatureType(settings.signature_type)
    seen = wallet_type_of(environment, signer, wallet) if wallet else None
    if seen != expected.name and not (seen is None and expected is SignatureType.DEPOSIT_WALLET):
        raise ConfigurationError(wallet_mismatch(expected, seen, wallet or "", signer))
    try:
        client = await AsyncSecureClient.create(
            private_key=key, wallet=wallet, environment=environment, credentials=credentials
        )
    except (
        UserInputError
    ) as error:  # e.g. "Wallet … does not exist": not deployed (registered) for this signer
        raise ConfigurationError(f"POLYDESK_WALLET_ADDRESS: {error}") from None
    except (PolymarketError, httpx.HTTPError) as error:
        raise translate(error, mutating=False) from None
    return PolymarketVenue(
        client,
        chain_id=settings.chain_id,
        submit_timeout_secs=settings.submit_timeout_secs,
        clob_url=settings.clob_url,
    )
