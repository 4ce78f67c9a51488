"""POST /order body -> a verified engine Order, or a VenueError with the venue's message.

Checks, in the venue's spirit: payload shape, owner = API key, known open market, the V2 EIP-712
signature against the market's exchange (standard or neg-risk), maker/signer rules per signature
type, tick grid and price bounds [tick, 1 - tick], minimum size, order type, post-only and GTD expiry, and
amounts as the venue checks them (precision, exact limit price; the $1 minimum of a marketable order is
checked by the exchange, which knows whether it crosses).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from paperexchange.core import config, errors, signing
from paperexchange.core.auth import ApiKey
from paperexchange.core.engine import BUY, SELL, Order
from paperexchange.core.errors import VenueError
from paperexchange.core.markets import Market, MarketRegistry
from paperexchange.core.units import (
    AMOUNT_SCALE,
    PRICE_SCALE,
    amount_str,
    decimal_str,
    price_str,
    tick_places,
)

ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
RESTING_TYPES = ("GTC", "GTD")
SIDES = {"BUY": 0, "SELL": 1}
EOA, POLY_PROXY, POLY_GNOSIS_SAFE, POLY_1271 = 0, 1, 2, 3
# Fields only a V1 (pre-2026-04-28) order carries: the venue answers order_version_mismatch.
V1_ONLY_FIELDS = ("nonce", "feeRateBps", "taker")

_DOMAINS = {
    False: signing.exchange_domain_separator(config.STANDARD_EXCHANGE),
    True: signing.exchange_domain_separator(config.NEG_RISK_EXCHANGE),
}

WalletOwner = Callable[[str, int], str | None]  # (wallet, signature type) -> owner EOA, if registered


@dataclass(frozen=True, slots=True)
class Posted:
    """A verified order plus what the exchange needs beyond the engine's view."""

    order: Order
    market: Market
    maker_amount: int
    taker_amount: int
    exchange: str


def exchange_for(market: Market) -> str:
    return config.NEG_RISK_EXCHANGE if market.neg_risk else config.STANDARD_EXCHANGE


def _field(order: dict, name: str, kind: type = str):
    try:
        value = order[name]
        return int(value) if kind is int else str(value)
    except (KeyError, TypeError, ValueError):
        raise VenueError(errors.INVALID_ORDER.format(reason=f"invalid {name}")) from None


def _struct(raw: dict) -> signing.OrderStruct:
    side = raw.get("side")
    if side not in SIDES:
        raise VenueError(errors.INVALID_ORDER.format(reason="invalid side"))
    try:
        return signing.OrderStruct(
            salt=_field(raw, "salt", int),
            maker=_field(raw, "maker"),
            signer=_field(raw, "signer"),
            token_id=_field(raw, "tokenId", int),
            maker_amount=_field(raw, "makerAmount", int),
            taker_amount=_field(raw, "takerAmount", int),
            side=SIDES[side],
            signature_type=_field(raw, "signatureType", int),
            timestamp=_field(raw, "timestamp", int),
            metadata=_field(raw, "metadata"),
            builder=_field(raw, "builder"),
        )
    except VenueError:
        raise
    except ValueError:
        raise VenueError(errors.INVALID_ORDER.format(reason="malformed order")) from None


def _check_signature(
    struct: signing.OrderStruct, raw: dict, market: Market, key: ApiKey, wallet_owner: WalletOwner
) -> str:
    """Verify the signature and the maker/signer rules; return the order hash (its id)."""
    domain = _DOMAINS[market.neg_risk]
    digest = signing.order_digest(struct, domain)
    try:
        signature = signing.hex_bytes(_field(raw, "signature"))
        sig_type = struct.signature_type
        if sig_type == POLY_1271:
            recovered = signing.recover_signer(signing.poly1271_digest(struct, domain), signature[:65])
        else:
            recovered = signing.recover_signer(digest, signature)
    except ValueError:
        raise VenueError(errors.INVALID_SIGNATURE) from None
    maker, signer = struct.maker.lower(), struct.signer.lower()
    if sig_type == EOA:
        if maker != signer:
            raise VenueError(errors.EOA_MAKER_MISMATCH)
        expected_key_address = signer
    elif sig_type in (POLY_PROXY, POLY_GNOSIS_SAFE):
        owner = wallet_owner(struct.maker, sig_type)
        if owner is None or owner.lower() != signer:
            raise VenueError(
                errors.UNKNOWN_WALLET.format(maker=struct.maker, signer=struct.signer, sig_type=sig_type)
            )
        expected_key_address = signer
    elif sig_type == POLY_1271:
        # Deposit wallet: maker = signer = the wallet; its owner EOA signs and holds the API key.
        owner = wallet_owner(struct.maker, sig_type)
        if maker != signer or owner is None:
            raise VenueError(
                errors.UNKNOWN_WALLET.format(maker=struct.maker, signer=struct.signer, sig_type=sig_type)
            )
        signer = owner.lower()
        expected_key_address = signer
    else:
        raise VenueError(errors.UNSUPPORTED_SIG_TYPE.format(sig_type=sig_type))
    if recovered.lower() != signer:
        raise VenueError(errors.INVALID_SIGNATURE)
    if key.address.lower() != expected_key_address:
        raise VenueError(errors.SIGNER_NOT_API_KEY)
    return "0x" + digest.hex()


MARKET_TYPES = ("FOK", "FAK")
MARKET_AMOUNT_PLACES = (2, 4)  # market orders: maker amount, taker amount (whatever the tick)
SHARE_PLACES = 2
MIN_MARKETABLE_USD = AMOUNT_SCALE  # a marketable order moves at least $1 (base units)


def _places_ok(amount: int, places: int) -> bool:
    return amount % 10 ** (6 - places) == 0


def _check_precision(struct: signing.OrderStruct, market: Market, is_market: bool) -> None:
    """The venue's amount precision: a limit order's shares have 2 decimals and its pUSD the tick's
    decimals + 2 (the exact product); a market order (FOK/FAK) has a maker amount of at most 2 decimals
    and a taker amount of at most 4, whatever the tick (user reports of the live errors: Polymarket
    py-clob-client issues #305/#253, rs-clob-client #114, py-clob-client-v2 #99)."""
    side = "buy" if struct.side == 0 else "sell"
    if is_market:
        maker_places, taker_places = MARKET_AMOUNT_PLACES
    else:
        amount_places = tick_places(market.tick_units) + 2
        maker_places, taker_places = (
            (amount_places, SHARE_PLACES) if side == "buy" else (SHARE_PLACES, amount_places)
        )
    if not (_places_ok(struct.maker_amount, maker_places) and _places_ok(struct.taker_amount, taker_places)):
        raise VenueError(
            errors.INVALID_AMOUNTS.format(
                kind=("market " if is_market else "") + side, maker=maker_places, taker=taker_places
            )
        )


def _price(struct: signing.OrderStruct, market: Market, order_id: str, is_market: bool) -> int:
    """Limit price in 1e-4 units: exactly pUSD / shares for a limit order, which must then lie on the
    tick grid (0.50001 is refused, not rounded); for a market order the worst price it accepts (its
    amounts are rounded, so the ratio is inexact): rounded down for a BUY, up for a SELL."""
    if struct.maker_amount <= 0 or struct.taker_amount <= 0:
        raise VenueError(errors.INVALID_ORDER.format(reason="amounts must be positive"))
    buy = struct.side == 0
    pay, get = (
        (struct.maker_amount, struct.taker_amount) if buy else (struct.taker_amount, struct.maker_amount)
    )
    exact = Fraction(pay * PRICE_SCALE, get)
    if is_market:
        units = math.floor(exact) if buy else math.ceil(exact)
    else:
        units = exact.numerator // exact.denominator
        if exact.denominator != 1 or units % market.tick_units:
            shown = decimal_str(Decimal(pay) / Decimal(get))
            raise VenueError(
                errors.INVALID_TICK.format(order_id=order_id, price=shown, tick=market.tick_size)
            )
    tick = market.tick_units
    if not tick <= units <= PRICE_SCALE - tick:
        raise VenueError(
            errors.INVALID_PRICE_RANGE.format(
                price=price_str(units), low=market.tick_size, high=price_str(PRICE_SCALE - tick)
            )
        )
    return units


def _check_type(order_type: object, post_only: bool, expiration: int, now: float, gtd_lead_secs: int) -> str:
    if order_type not in ORDER_TYPES:
        raise VenueError(errors.INVALID_ORDER.format(reason=f"invalid order type {order_type}"))
    if post_only and order_type not in RESTING_TYPES:
        raise VenueError(errors.POST_ONLY_TYPE)
    if order_type == "GTD":
        if expiration <= now + gtd_lead_secs:
            raise VenueError(errors.INVALID_EXPIRATION)
    elif expiration != 0:
        raise VenueError(errors.INVALID_EXPIRATION)
    return str(order_type)


def parse_order(
    body: object,
    *,
    key: ApiKey,
    markets: MarketRegistry,
    wallet_owner: WalletOwner,
    now: float,
    gtd_lead_secs: int,
) -> Posted:
    """Validate one POST /order body (also each element of POST /orders)."""
    if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
        raise VenueError(errors.INVALID_PAYLOAD)
    raw = body["order"]
    if any(name in raw for name in V1_ONLY_FIELDS) or "timestamp" not in raw:
        raise VenueError(errors.ORDER_VERSION_MISMATCH)
    if body.get("owner") != key.key:
        raise VenueError(errors.OWNER_MISMATCH)
    struct = _struct(raw)
    token_id = str(struct.token_id)
    market = markets.by_token(token_id)
    if market is None:
        raise VenueError(errors.UNKNOWN_TOKEN.format(token_id=token_id))
    if not market.accepting_orders or market.closed:
        raise VenueError(errors.MARKET_NOT_READY)
    order_id = _check_signature(struct, raw, market, key, wallet_owner)
    post_only = bool(body.get("postOnly", False))
    expiration = _field(raw, "expiration", int)
    order_type = _check_type(body.get("orderType", "GTC"), post_only, expiration, now, gtd_lead_secs)
    is_market = order_type in MARKET_TYPES
    _check_precision(struct, market, is_market)
    price = _price(struct, market, order_id, is_market)
    side = BUY if struct.side == 0 else SELL
    shares = struct.taker_amount if side == BUY else struct.maker_amount
    if shares < market.min_size_units and not is_market:
        raise VenueError(
            errors.INVALID_MIN_SIZE.format(
                order_id=order_id, size=amount_str(shares), min_size=market.min_order_size
            )
        )
    order = Order(
        id=order_id,
        condition_id=market.condition_id,
        token_id=token_id,
        is_yes=market.is_yes(token_id),
        side=side,
        price=price,
        original_size=shares,
        owner=key.key,
        maker=struct.maker,
        signer=struct.signer,
        order_type=order_type,
        created_at=int(now),
        expiration=expiration,
        post_only=post_only,
        spend_limit=struct.maker_amount if side == BUY and order_type not in RESTING_TYPES else None,
    )
    return Posted(
        order=order,
        market=market,
        maker_amount=struct.maker_amount,
        taker_amount=struct.taker_amount,
        exchange=exchange_for(market),
    )
