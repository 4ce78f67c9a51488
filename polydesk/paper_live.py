"""Paper trading on live books (`polydesk up --paper-live`, POLYDESK_PAPER_LIVE=true): the venue the paper
exchange mirrors, read from the venue settings the services would otherwise use.

POLYDESK_GAMMA_URL and POLYDESK_MARKET_WS_URL (unset: Polymarket's) name the venue whose markets and books
the paper exchange copies; ingest's selection settings (POLYDESK_DISCOVERY_CONDITION_IDS, _SLUGS,
_MAX_MARKETS) say which of its markets. POLYDESK_CLOB_URL only names the venue in the banner: no order, no
signature and no account request ever goes there. The services themselves are pointed at the paper
exchange, like any paper run (polydesk/paper_mode.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import http_url, parse_list, ws_url
from shared.errors import ConfigurationError


def _default(field: str) -> object:
    from services.ingest.config import IngestSettings

    return IngestSettings.model_fields[field].default


@dataclass(frozen=True)
class LiveVenue:
    """The venue mirrored and which of its markets."""

    gamma_url: str
    market_ws_url: str
    clob_url: str
    condition_ids: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()
    max_markets: int = 200

    def exchange_args(self) -> list[str]:
        """`python -m paperexchange` flags that make it this venue's shadow (no scenario, no own markets)."""
        args = [
            "--mirror-gamma-url",
            self.gamma_url,
            "--mirror-market-ws-url",
            self.market_ws_url,
            "--mirror-max-markets",
            str(self.max_markets),
        ]
        if self.condition_ids:
            args += ["--mirror-condition-ids", ",".join(self.condition_ids)]
        if self.slugs:
            args += ["--mirror-slugs", ",".join(self.slugs)]
        return args


def live_venue(environ: dict[str, str]) -> LiveVenue:
    """The venue from the settings (environment and `.env`); ConfigurationError naming a bad one."""

    def url(name: str, field: str, check) -> str:
        value = environ.get(name) or str(_default(field))
        try:
            return check(value)
        except ValueError as error:
            raise ConfigurationError(f"invalid settings: {name}: {error}") from None

    try:
        max_markets = int(environ.get("POLYDESK_DISCOVERY_MAX_MARKETS") or _default("discovery_max_markets"))  # type: ignore[call-overload]
    except ValueError:
        raise ConfigurationError(
            "invalid settings: POLYDESK_DISCOVERY_MAX_MARKETS: must be a whole number"
        ) from None
    if max_markets < 1:
        raise ConfigurationError("invalid settings: POLYDESK_DISCOVERY_MAX_MARKETS: must be at least 1")
    return LiveVenue(
        gamma_url=url("POLYDESK_GAMMA_URL", "gamma_url", http_url),
        market_ws_url=url("POLYDESK_MARKET_WS_URL", "market_ws_url", ws_url),
        clob_url=url("POLYDESK_CLOB_URL", "clob_url", http_url),
        condition_ids=tuple(parse_list(environ.get("POLYDESK_DISCOVERY_CONDITION_IDS") or "")),
        slugs=tuple(parse_list(environ.get("POLYDESK_DISCOVERY_SLUGS") or "")),
        max_markets=max_markets,
    )
