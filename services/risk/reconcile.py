"""On start: compare risk's inventory with the exchange's positions (Data API), log every difference, adopt theirs.

The wire side (rows, paging, errors) is shared.polymarket.positions; this module only compares and adopts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import httpx

from services.risk.pnl import ZERO, Position
from services.risk.state import RiskState
from shared.polymarket.positions import RemotePosition, fetch_positions, parse_position

log = logging.getLogger(__name__)

SIZE_TOLERANCE = Decimal("0.000001")
__all__ = ["Difference", "RemotePosition", "adopt", "differences", "fetch_positions", "parse_position",
           "reconcile"]


@dataclass(frozen=True)
class Difference:
    token_id: str
    market: str
    local_size: Decimal
    remote_size: Decimal
    local_avg_price: Decimal
    remote_avg_price: Decimal


def differences(local: list[Position], remote: list[RemotePosition]) -> list[Difference]:
    """Tokens whose size differs between risk and the exchange (either side may be missing)."""
    mine = {p.token_id: p for p in local}
    theirs = {p.token_id: p for p in remote}
    found = []
    for token_id in sorted(set(mine) | set(theirs)):
        ours, venue = mine.get(token_id), theirs.get(token_id)
        local_size = ours.size if ours else ZERO
        remote_size = venue.size if venue else ZERO
        if abs(local_size - remote_size) > SIZE_TOLERANCE:
            found.append(Difference(
                token_id=token_id, market=venue.condition_id if venue else ours.market if ours else "",
                local_size=local_size, remote_size=remote_size,
                local_avg_price=ours.avg_price if ours else ZERO,
                remote_avg_price=venue.avg_price if venue else ZERO,
            ))
    return found


def adopt(state: RiskState, found: list[Difference]) -> None:
    """Take the exchange's size and average price for every differing token (it is the source of truth)."""
    with state.transaction():
        for diff in found:
            state.set_position(diff.token_id, diff.market, diff.remote_size, diff.remote_size * diff.remote_avg_price)


async def reconcile(state: RiskState, base_url: str, wallet: str, *,
                    transport: httpx.AsyncBaseTransport | None = None, timeout_secs: float = 10.0) -> list[Difference]:
    """Fetch the exchange's positions, adopt them where they differ; returns the differences found."""
    async with httpx.AsyncClient(transport=transport, timeout=timeout_secs) as client:
        remote = await fetch_positions(client, base_url, wallet)
    found = differences(state.positions(), remote)
    adopt(state, found)
    return found
