"""GET of Polymarket's public JSON APIs (Gamma, Data API): one client shape, errors translated at the boundary."""

from __future__ import annotations

from typing import Any

import httpx

from shared.errors import RateLimited, TransientVenueError

DEFAULT_RETRY_AFTER_SECS = 5.0


def retry_after_secs(header: str | None, default: float = DEFAULT_RETRY_AFTER_SECS) -> float:
    """Seconds from a Retry-After header (seconds form; the HTTP-date form and nonsense give `default`)."""
    try:
        secs = float(header) if header is not None else default
    except ValueError:
        return default
    return secs if 0 <= secs < 86_400 else default


class PublicJsonClient:
    """An async client for one public JSON API. `get_json` raises RateLimited on 429, TransientVenueError on
    transport errors, other HTTP errors and invalid JSON."""

    name = "api"

    def __init__(
        self, base_url: str, *, timeout_secs: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_secs, transport=transport
        )
        self.skipped = 0  # rows a decoder refused, summed over calls

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, path: str, params: Any = None) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise TransientVenueError(f"{self.name} {path}: {type(error).__name__}: {error}") from error
        if response.status_code == 429:
            raise RateLimited(
                f"{self.name} {path}: HTTP 429", retry_after_secs(response.headers.get("retry-after"))
            )
        if response.status_code >= 400:
            raise TransientVenueError(f"{self.name} {path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise TransientVenueError(f"{self.name} {path}: invalid JSON") from error
