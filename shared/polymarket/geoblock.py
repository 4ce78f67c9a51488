"""Polymarket's geographic check: `GET https://polymarket.com/api/geoblock` (the main site, not the API hosts).

The answer is `{"blocked": bool, "ip": str, "country": "<ISO 3166-1>", "region": "<code>"}`
(docs.polymarket.com/api-reference/geoblock). `blocked` means no orders at all. Close-only is not a field:
the docs list countries where positions may be closed but none opened; `region_status` derives it from the
country (or "<country>-<region>") against that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from shared.errors import TransientVenueError

PRODUCTION_GEOBLOCK_URL = "https://polymarket.com/api/geoblock"
# "Close-only" in the docs' restricted-countries table (docs.polymarket.com/api-reference/geoblock, read
# 2026-11): orders that reduce a position only. Codes are ISO 3166-1 alpha-2, or ISO 3166-2 for a region.
CLOSE_ONLY_CODES = frozenset({"PL", "SG", "TH", "TW"})

RegionStatus = Literal["ok", "close_only", "blocked", "unknown"]


@dataclass(frozen=True)
class Geoblock:
    blocked: bool
    ip: str
    country: str
    region: str


def region_status(answer: Geoblock, close_only: frozenset[str] = CLOSE_ONLY_CODES) -> RegionStatus:
    if answer.blocked:
        return "blocked"
    codes = {answer.country.upper(), f"{answer.country}-{answer.region}".upper()}
    return "close_only" if codes & close_only else "ok"


def parse(body: object) -> Geoblock:
    if not isinstance(body, dict) or not isinstance(body.get("blocked"), bool):
        raise TransientVenueError(f"geoblock: unexpected answer {str(body)[:120]!r}")
    return Geoblock(
        blocked=body["blocked"],
        ip=str(body.get("ip", "")),
        country=str(body.get("country", "")),
        region=str(body.get("region", "")),
    )


async def fetch_geoblock(url: str, *, timeout_secs: float = 10.0) -> Geoblock:
    """Ask `url`; TransientVenueError when it cannot be reached or answers something else."""
    try:
        async with httpx.AsyncClient(timeout=timeout_secs) as client:
            response = await client.get(url)
        response.raise_for_status()
        return parse(response.json())
    except (httpx.HTTPError, ValueError) as error:
        raise TransientVenueError(f"geoblock: {type(error).__name__}: {error}") from error


def geoblock_url_for(clob_url: str, production_clob_url: str) -> str:
    """The default check URL: Polymarket's own for production, the paper exchange's `/api/geoblock` else."""
    if clob_url.rstrip("/") == production_clob_url.rstrip("/"):
        return PRODUCTION_GEOBLOCK_URL
    return clob_url.rstrip("/") + "/api/geoblock"
