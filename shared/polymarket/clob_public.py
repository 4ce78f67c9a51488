"""Public CLOB reads outside the SDK: a token's book (ingest's resync), a market's taker fee schedule and
tokens, and the venue's health and clock (preflight)."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from shared.errors import TransientVenueError, VenueRejected
from shared.polymarket.schemas import BookSummary, decode_rest_book
from shared.polymarket.venue_changes import CHANGES


async def fetch_book(http: httpx.AsyncClient, clob_url: str, token_id: str) -> BookSummary:
    """GET /book of one token; raises httpx.HTTPError (transport, non-2xx) or MarketFrameError (bad body)."""
    response = await http.get(f"{clob_url.rstrip('/')}/book", params={"token_id": token_id})
    response.raise_for_status()
    book = decode_rest_book(response.content)
    CHANGES.check("clob", "book", [book, *book.bids[:1], *book.asks[:1]])
    return book


async def check_ok(clob_url: str, *, timeout_secs: float) -> None:
    """GET /ok (the venue's health); raises httpx.HTTPError (transport, non-2xx)."""
    async with httpx.AsyncClient(timeout=timeout_secs) as http:
        response = await http.get(clob_url.rstrip("/") + "/ok")
    response.raise_for_status()


async def fetch_server_time(clob_url: str, *, timeout_secs: float) -> tuple[float, float, float]:
    """GET /time: (venue unix seconds, our time when sent, our time when answered); raises httpx.HTTPError,
    or ValueError / TypeError for a body that is not a number."""
    async with httpx.AsyncClient(timeout=timeout_secs) as http:
        sent = time.time()
        response = await http.get(clob_url.rstrip("/") + "/time")
        answered = time.time()
    response.raise_for_status()
    return float(response.json()), sent, answered


async def fetch_fee_schedule(
    clob_url: str, condition_id: str, *, timeout_secs: float
) -> tuple[Decimal, Decimal]:
    """The market's taker fee (rate, exponent) from `/clob-markets/{condition_id}` (`fd: {r, e}`; none: 0, 0)."""
    async with httpx.AsyncClient(base_url=clob_url.rstrip("/"), timeout=timeout_secs) as http:
        response = await http.get(f"/clob-markets/{condition_id}")
    if response.status_code != 200:
        raise TransientVenueError(f"clob-markets answered {response.status_code}")
    fee = response.json().get("fd") or {}
    return Decimal(str(fee.get("r", 0))), Decimal(str(fee.get("e", 0)))


async def fetch_market_tokens(
    clob_url: str, condition_id: str, *, timeout_secs: float
) -> tuple[tuple[str, ...], bool]:
    """A market's outcome token ids in outcome order (index i is CTF outcome slot i) and its neg-risk flag,
    from `/markets/{condition_id}`; raises TransientVenueError, or VenueRejected for an unknown market."""
    try:
        async with httpx.AsyncClient(base_url=clob_url.rstrip("/"), timeout=timeout_secs) as http:
            response = await http.get(f"/markets/{condition_id}")
    except httpx.HTTPError as error:
        raise TransientVenueError(f"clob markets unreachable: {error!r}") from error
    if response.status_code == 404:
        raise VenueRejected(f"market {condition_id} not found")
    if response.status_code != 200:
        raise TransientVenueError(f"clob markets answered {response.status_code}")
    body = response.json()
    tokens = tuple(str(token["token_id"]) for token in body.get("tokens") or [] if token.get("token_id"))
    if len(tokens) != 2:
        raise VenueRejected(f"market {condition_id} has {len(tokens)} outcome tokens, expected 2")
    return tokens, bool(body.get("neg_risk"))
