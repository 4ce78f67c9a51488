"""The end of `polydesk up`: ledger against venue (cash and every token), in the summary and as JSON in
`logs/run-summary-<UTC timestamp>.json`.

Run after the services stopped and while the paper exchange still runs: the ledger is risk's (read from
its database), the venue is the chain and the Data API, compared as `polydesk positions` compares them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from polydesk.paper_mode import PaperVenue
from polydesk.positions import gather
from services.risk.config import RiskSettings
from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError

# The summary table shows these; the JSON file has everything (per-token rows included).
SUMMARY_FIELDS = (
    "positions_checked",
    "position_differences",
    "cash_ledger",
    "cash_pending",
    "cash_venue",
    "cash_difference",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "venue_errors",
)


def risk_settings(layers: dict[str, ServiceSettings]) -> RiskSettings:
    risk = layers.get("risk")
    return risk if isinstance(risk, RiskSettings) else load_settings(RiskSettings)


async def reconcile_run(
    layers: dict[str, ServiceSettings], paper: PaperVenue | None, state_dir: Path | str | None = None
) -> dict[str, Any]:
    """Ledger vs venue now; a ledger or venue that cannot be read is reported as such, never as agreement.

    `state_dir`: the services' state folder when `up` gave them their own (a paper run's folder)."""
    try:
        risk = risk_settings(layers)
    except ConfigurationError as error:
        return _unknown(f"risk settings: {error}")
    db = ledger_path(risk, state_dir)
    endpoints: tuple[str | None, str | None, str | None]
    if paper is not None and paper.alive():
        endpoints = (f"{paper.url}/data-api", f"{paper.url}/rpc", paper.wallet)
    elif paper is not None:
        endpoints = (None, None, None)  # the paper exchange is gone: the venue is unknown
    else:
        endpoints = (risk.data_api_url, risk.rpc_url, risk.reconcile_wallet_address)
    try:
        return await gather(db, *endpoints)
    except (FileNotFoundError, sqlite3.Error) as error:
        return _unknown(f"ledger: {error}")


def ledger_path(risk: RiskSettings, state_dir: Path | str | None = None) -> Path:
    """Risk's ledger file: its own setting, else in the state folder `up` gave the services."""
    return risk.risk_db_path or (Path(state_dir) / "risk.sqlite" if state_dir else risk.db_path())


def _unknown(reason: str) -> dict[str, Any]:
    return {
        "positions_checked": 0,
        "position_differences": [],
        "cash_ledger": None,
        "cash_pending": None,
        "cash_venue": None,
        "cash_difference": None,
        "realized_pnl": None,
        "unrealized_pnl": None,
        "fees": None,
        "venue_errors": [reason],
        "tokens": [],
    }


def write(log_dir: Path, summary: dict[str, Any], reconciliation: dict[str, Any]) -> Path:
    """logs/run-summary-<UTC timestamp>.json: the run's summary and the full reconciliation."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(log_dir) / f"run-summary-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**summary, **reconciliation}, indent=2, default=str) + "\n")
    return path.resolve()


def summary_fields(reconciliation: dict[str, Any]) -> dict[str, Any]:
    return {name: reconciliation.get(name) for name in SUMMARY_FIELDS}


def difference_lines(reconciliation: dict[str, Any]) -> list[str]:
    found = list(reconciliation.get("position_differences") or [])
    if reconciliation.get("cash_difference"):
        found.append(reconciliation["cash_difference"])
    return [
        f"DIFFERENCE {d['kind']} {d['token_id']} ({d['source']}): ledger {d['ledger']} "
        f"(settled {d['ledger_settled']}), venue {d['venue']}"
        for d in found
    ]
