"""`polydesk positions [--json]`: what the ledger holds and what the venue says, with every difference.

The ledger is risk's (its SQLite file, read-only, so this works while risk runs): per token the settled and
provisional shares, average cost, mark (the payout once resolved), unrealized and realized PnL, the market's
question; cash. The venue is the chain (pUSD and CTF balances over JSON-RPC) and the Data API positions,
compared as risk's reconciliation compares them (services.risk.reconcile). The `up` summary uses `report`.

Venue endpoints: POLYDESK_DATA_API_URL, POLYDESK_RPC_URL and POLYDESK_RECONCILE_WALLET_ADDRESS; with none set,
the paper `polydesk up` running from this state folder (its run folder, exchange and wallet); after it ended,
the newest paper run's ledger with the venue shown as unknown.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.risk.config import RiskSettings
from services.risk.reconcile import VenueView, compare, read_venue
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.ledger import ZERO, Ledger, TokenPosition
from shared.ledger_store import SqliteLedgerStore, open_readonly

CENT = Decimal("0.01")
CONFIRM_AFTER_SECS = 3.0


@dataclass(frozen=True)
class LedgerView:
    positions: list[TokenPosition]
    cash_usd: Decimal | None
    pending_cash_usd: Decimal
    marks: dict[str, Decimal]
    questions: dict[str, str]  # condition id -> question
    outcomes: dict[str, str]  # token id -> outcome
    pending_shares: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)


def read_ledger(db_path: Path) -> LedgerView:
    """Risk's ledger as it is now; raises FileNotFoundError when risk has never run with this state dir."""
    if not Path(db_path).exists():
        raise FileNotFoundError(f"no ledger at {db_path}: risk has not run with this state directory")
    db = open_readonly(db_path)
    try:
        ledger = Ledger(SqliteLedgerStore(db))
        marks = {t: Decimal(p) for t, p in db.execute("SELECT token_id, price FROM marks")}
        questions = dict(_rows(db, "SELECT condition_id, question FROM markets"))
        outcomes = dict(_rows(db, "SELECT token_id, outcome FROM tokens"))
        return LedgerView(
            ledger.positions(),
            ledger.cash_usd(),
            ledger.pending_cash_usd(),
            marks,
            questions,
            outcomes,
            ledger.pending_shares(),
        )
    finally:
        db.close()


def _rows(db: sqlite3.Connection, sql: str) -> list[tuple]:
    try:
        return list(db.execute(sql))
    except sqlite3.OperationalError:  # a database from before the column existed
        return []


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.000001")))


def _token_row(p: TokenPosition, ledger: LedgerView, venue: VenueView | None) -> dict[str, Any]:
    mark = p.mark(ledger.marks)
    chain = venue.chain_tokens.get(p.token_id) if venue and venue.chain_tokens is not None else None
    data_api = venue.data_api.get(p.token_id) if venue and venue.data_api is not None else None
    return {
        "token_id": p.token_id,
        "market": p.market,
        "question": ledger.questions.get(p.market, ""),
        "outcome": ledger.outcomes.get(p.token_id, ""),
        "settled": str(p.settled),
        "provisional": str(p.provisional),
        "avg_price": _usd(p.avg_price),
        "cost_usd": _usd(p.cost_usd),
        "mark": None if mark is None else str(mark),
        "resolved_price": None if p.resolved_price is None else str(p.resolved_price),
        "unrealized_usd": _usd(p.unrealized_usd(ledger.marks)) if mark is not None else None,
        "realized_usd": _usd(p.realized_usd),
        "fees_usd": _usd(p.fees_usd),
        "venue_chain": None if chain is None else str(chain),
        "venue_data_api": None
        if venue is None or venue.data_api is None
        else str(data_api.size if data_api else ZERO),
    }


ENDED_RUN = "the paper run has ended: its exchange, and so the venue's view, is gone"
NOT_CONFIGURED = "venue not configured"


def report(
    ledger: LedgerView, venue: VenueView | None, unknown_reason: str = NOT_CONFIGURED
) -> dict[str, Any]:
    """Ledger and venue side by side; unknown venue numbers stay None (never taken as a match)."""
    held = [p for p in ledger.positions if p.size != 0 or p.settled != 0]
    venue_tokens = set()
    if venue is not None:  # tokens the venue shows some shares of
        venue_tokens = {t for t, size in (venue.chain_tokens or {}).items() if size} | set(
            venue.data_api or ()
        )
    shown = {p.token_id: p for p in held}
    for p in ledger.positions:
        if p.token_id in venue_tokens and p.token_id not in shown:
            shown[p.token_id] = p
    differences = (
        []
        if venue is None
        else compare(ledger.positions, ledger.cash_usd, ledger.pending_cash_usd, venue, ledger.pending_shares)
    )
    checked = set(shown) | venue_tokens
    venue_read = venue is not None and (venue.chain_tokens is not None or venue.data_api is not None)
    unrealized = sum((p.unrealized_usd(ledger.marks) for p in ledger.positions), ZERO)
    return {
        "as_of": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tokens": [_token_row(shown[t], ledger, venue) for t in sorted(shown)],
        "cash_ledger": _usd(ledger.cash_usd),
        "cash_pending": _usd(ledger.pending_cash_usd),
        "cash_venue": _usd(venue.chain_cash) if venue is not None else None,
        "realized_pnl": _usd(sum((p.realized_usd for p in ledger.positions), ZERO)),
        "unrealized_pnl": _usd(unrealized),
        "fees": _usd(sum((p.fees_usd for p in ledger.positions), ZERO)),
        "positions_checked": len(checked) if venue_read else 0,
        "position_differences": [d.as_dict() for d in differences if d.kind == "position"],
        "cash_difference": next((d.as_dict() for d in differences if d.kind == "cash"), None),
        "venue_errors": [unknown_reason] if venue is None else list(venue.errors),
    }


def paper_wallet(state_dir: Path) -> str | None:
    """The paper wallet's address (its key is kept under the state folder), None when there is none."""
    key_file = Path(state_dir).resolve() / "paper" / "executor.key"
    if not key_file.exists():
        return None
    from eth_account import Account  # slow import: only for paper mode

    return Account.from_key(key_file.read_text().strip()).address


def locate(settings: RiskSettings) -> tuple[Path, str | None, str | None, str | None]:
    """(risk's database, Data API URL, RPC URL, wallet): the configured venue; else the paper `polydesk up`
    still running from this state folder (its run folder and exchange); else the newest paper run's ledger,
    with the venue unknown (its exchange is gone)."""
    if settings.data_api_url or settings.rpc_url:
        return settings.db_path(), settings.data_api_url, settings.rpc_url, settings.reconcile_wallet_address
    from polydesk.runs import live_run

    db = ledger_file(settings)
    run = live_run(settings.state_dir)
    url = str(run.info().get("paper_exchange_url") or "") if run is not None else ""
    if url:
        return db, f"{url}/data-api", f"{url}/rpc", paper_wallet(settings.state_dir)
    return db, None, None, None


def ledger_file(settings: RiskSettings) -> Path:
    """Risk's ledger file (what `locate` reads, without finding the venue): the configured one; else the
    paper `polydesk up` still running from this state folder's; else the newest paper run's."""
    from polydesk.runs import live_run, runs_dir

    if settings.data_api_url or settings.rpc_url or settings.risk_db_path is not None:
        return settings.db_path()
    run = live_run(settings.state_dir)
    if run is not None:
        return run.path / "risk.sqlite"
    base = runs_dir(settings.state_dir)
    newest = (
        sorted((p for p in base.iterdir() if (p / "risk.sqlite").exists()), reverse=True)
        if base.is_dir()
        else []
    )
    return newest[0] / "risk.sqlite" if newest else settings.db_path()


async def _once(
    db_path: Path, data_api_url: str | None, rpc_url: str | None, wallet: str | None
) -> dict[str, Any]:
    ledger = read_ledger(db_path)
    venue = None
    if wallet and (data_api_url or rpc_url):
        tokens = [p.token_id for p in ledger.positions if p.size != 0 or p.settled != 0]
        venue = await read_venue(data_api_url, rpc_url, wallet, tokens, timeout_secs=5.0)
    ended = db_path.parent.parent.name == "runs" and not data_api_url and not rpc_url
    return report(ledger, venue, ENDED_RUN if ended else NOT_CONFIGURED)


def _keys(result: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = result["position_differences"] + (
        [result["cash_difference"]] if result["cash_difference"] else []
    )
    return {(d["kind"], d["source"], d["token_id"]) for d in found}


async def gather(
    db_path: Path,
    data_api_url: str | None,
    rpc_url: str | None,
    wallet: str | None,
    *,
    confirm_after_secs: float = CONFIRM_AFTER_SECS,
) -> dict[str, Any]:
    """The report; a difference must still be there `confirm_after_secs` later (a fill or a redemption in flight
    between venue and ledger shows as one for a moment). Those gone by then are listed under `in_flight`."""
    first = await _once(db_path, data_api_url, rpc_url, wallet)
    if not _keys(first) or confirm_after_secs <= 0:
        return {**first, "in_flight": []}
    await asyncio.sleep(confirm_after_secs)
    second = await _once(db_path, data_api_url, rpc_url, wallet)
    both = _keys(first) & _keys(second)
    kept = [d for d in second["position_differences"] if (d["kind"], d["source"], d["token_id"]) in both]
    cash = second["cash_difference"] if ("cash", "chain", "") in both else None
    gone = [
        d
        for d in first["position_differences"]
        + ([first["cash_difference"]] if first["cash_difference"] else [])
        if (d["kind"], d["source"], d["token_id"]) not in both
    ]
    return {**second, "position_differences": kept, "cash_difference": cash, "in_flight": gone}


def render(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"positions as of {result['as_of']}")
    table.add_column("market", overflow="ellipsis", no_wrap=True, max_width=44)
    for column in ("outcome", "settled", "pending", "avg", "mark", "unreal.", "real.", "chain", "data api"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for row in result["tokens"]:
        table.add_row(
            row["question"] or row["token_id"],
            row["outcome"],
            row["settled"],
            row["provisional"],
            _short(row["avg_price"]),
            row["mark"] or "unknown",
            _short(row["unrealized_usd"]) or "unknown",
            _short(row["realized_usd"]),
            row["venue_chain"] or "unknown",
            row["venue_data_api"] or "unknown",
        )
    console = Console()
    if not console.is_terminal:  # a pipe or a file: room for every column rather than 80 characters
        console = Console(width=140)
    console.print(table)
    console.print(
        f"cash: ledger {_short(result['cash_ledger']) or 'unknown'} (pending {_short(result['cash_pending'])})"
        f", venue {_short(result['cash_venue']) or 'unknown'}; realized {_short(result['realized_pnl'])}, "
        f"unrealized {_short(result['unrealized_pnl'])}, fees {_short(result['fees'])}"
    )
    for diff in result["position_differences"] + (
        [result["cash_difference"]] if result["cash_difference"] else []
    ):
        console.print(
            f"[red]DIFFERENCE[/red] {diff['kind']} {diff['token_id'] or ''} ({diff['source']}): ledger "
            f"{diff['ledger']} (settled {diff['ledger_settled']}), venue {diff['venue']}"
        )
    if result.get("in_flight"):
        console.print(
            f"{len(result['in_flight'])} difference(s) seen once and gone {CONFIRM_AFTER_SECS:.0f}s later "
            "(fills or redemptions in flight): not differences"
        )
    for error in result["venue_errors"]:
        console.print(f"[yellow]venue unknown:[/yellow] {error}")
    if not result["position_differences"] and not result["cash_difference"] and not result["venue_errors"]:
        console.print(f"ledger and venue agree on {result['positions_checked']} tokens and cash")


def _short(value: str | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="polydesk positions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(RiskSettings)
    except ConfigurationError as error:
        print(f"polydesk positions: {error}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(gather(*locate(settings)))
    except (FileNotFoundError, sqlite3.Error) as error:
        print(f"polydesk positions: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(result)
    differs = result["position_differences"] or result["cash_difference"]
    return 1 if differs or result["venue_errors"] else 0
