"""Where orders go, in one word: PAPER, LIVE or DRY RUN (or UNKNOWN), and the venue.

Risk knows whether it dry-runs (nothing reaches the executor); the executor knows which venue it posts to.
Each publishes its half in its health key and as a metric; the banner, the dashboard and Grafana combine
the halves here, and a half nobody reported makes the answer UNKNOWN, never the safer-looking one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

PRODUCTION_HOST_SUFFIX = "polymarket.com"
LIVE, PAPER, DRY_RUN, UNKNOWN = "LIVE", "PAPER", "DRY RUN", "UNKNOWN"
MODES = (LIVE, PAPER, DRY_RUN, UNKNOWN)


def is_production(clob_url: str | None) -> bool:
    host = urlsplit(clob_url or "https://clob.polymarket.com").hostname or ""
    return host == PRODUCTION_HOST_SUFFIX or host.endswith("." + PRODUCTION_HOST_SUFFIX)


def venue_name(clob_url: str | None) -> str:
    """What to call the venue on screen: `polymarket` for production, else the host:port it is at."""
    if is_production(clob_url):
        return "polymarket"
    parts = urlsplit(clob_url or "")
    return f"paper {parts.netloc}" if parts.netloc else "unknown"


def trading_mode(dry_run: bool | None, production: bool | None) -> str:
    """The mode from risk's dry run flag and the executor's venue (None: that service has not reported).

    Dry run wins (no order reaches the executor), except that an unknown dry run flag is UNKNOWN: with
    risk approving, where orders go depends on the venue, and an unreported venue is UNKNOWN too."""
    if dry_run is None:
        return UNKNOWN
    if dry_run:
        return DRY_RUN
    if production is None:
        return UNKNOWN
    return LIVE if production else PAPER
