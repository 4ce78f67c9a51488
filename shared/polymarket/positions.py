"""Data API positions of a wallet: wire rows -> RemotePosition, fetched page by page.

Written against Polymarket's v1 `/positions?user=` rows (`asset`, `conditionId`, `size`, `avgPrice`), also
accepting the v2 names and the v2 `{"data": [...]}` envelope. Numbers arrive as JSON numbers: read via str.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import httpx

from shared.errors import TransientVenueError, VenueRejected
from shared.retry import retry_async

# Our name -> the venue's names for it (v1 first, then v2).
POSITION_FIELDS: dict[str, tuple[str, ...]] = {
    "token_id": ("asset", "token_id"),
    "condition_id": ("conditionId", "condition_id"),
    "size": ("size", "current_size"),
    "avg_price": ("avgPrice", "avg_price"),
}
PAGE_SIZE = 500
MAX_OFFSET = 10_000  # the v1 API refuses offsets beyond this


@dataclass(frozen=True)
class RemotePosition:
    token_id: str
    condition_id: str
    size: Decimal
    avg_price: Decimal


def _field(row: dict[str, Any], name: str) -> Any:
    for venue_name in POSITION_FIELDS[name]:
        if venue_name in row and row[venue_name] is not None:
            return row[venue_name]
    raise VenueRejected(f"position row lacks {name} ({' or '.join(POSITION_FIELDS[name])})")


def parse_position(row: dict[str, Any]) -> RemotePosition:
    """One Data API position row as a RemotePosition; raises VenueRejected when a field is missing or
    a number is not a finite decimal."""
    if not isinstance(row, dict):
        raise VenueRejected(f"position row is not an object: {type(row).__name__}")
    return RemotePosition(
        token_id=str(_field(row, "token_id")),
        condition_id=str(_field(row, "condition_id")),
        size=_number(row, "size"),
        avg_price=_number(row, "avg_price"),
    )


def _number(row: dict[str, Any], name: str) -> Decimal:
    value = _field(row, name)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise VenueRejected(f"position {name} {value!r} is not a decimal") from None
    if not number.is_finite():
        raise VenueRejected(f"position {name} {value!r} is not finite")
    return number


async def _get_page(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as error:
        raise TransientVenueError(f"Data API unreachable: {error!r}") from error
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientVenueError(f"Data API answered {response.status_code}")
    if response.status_code >= 400:
        raise VenueRejected(f"Data API answered {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError as error:  # a proxy's HTML error page: may read fine next time
        raise TransientVenueError(f"Data API answered invalid JSON ({response.status_code})") from error
    rows = body.get("data") if isinstance(body, dict) else body
    if rows is not None and not isinstance(rows, list):
        raise VenueRejected(f"Data API positions page is not a list: {type(rows).__name__}")
    return list(rows or [])  # a miss may come back as null


async def fetch_positions(client: httpx.AsyncClient, base_url: str, wallet: str) -> list[RemotePosition]:
    """Every position of `wallet`, page by page; raises TransientVenueError or VenueRejected."""
    url = base_url.rstrip("/") + "/positions"
    positions: dict[str, RemotePosition] = {}
    offset = 0
    while offset <= MAX_OFFSET:
        params = {"user": wallet, "sizeThreshold": 0, "limit": PAGE_SIZE, "offset": offset}
        rows = await retry_async(partial(_get_page, client, url, params), attempts=3, base_secs=0.2)
        page = [parse_position(row) for row in rows]
        fresh = [p for p in page if p.token_id not in positions]
        positions.update((p.token_id, p) for p in page)
        # A server that ignores paging repeats itself: stop on a short page or a page with nothing new.
        if len(rows) < PAGE_SIZE or not fresh:
            break
        offset += PAGE_SIZE
    return list(positions.values())
