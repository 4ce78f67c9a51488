"""Ledger against venue: every token's shares and the pUSD balance, compared; on start the venue's are adopted.

The venue's view is the chain (pUSD and CTF balances through JSON-RPC, the source of truth for what can be
sold) and the Data API positions (what the exchange shows). A token's ledger shares are `settled` plus
`provisional`; while parts are provisional the venue may show either, so a venue number anywhere between
the two is reported as pending settlement, not as a difference. Risk runs `reconcile_on_start` (adopt)
and `check` on a timer (log and count only); `polydesk positions` and the `up` summary use `compare`.
The wire side is shared.polymarket (positions, chain); this module only compares and adopts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from shared.errors import PolydeskError
from shared.ledger import ZERO, Ledger, TokenPosition
from shared.polymarket.positions import RemotePosition, fetch_positions, parse_position

log = logging.getLogger(__name__)

SIZE_TOLERANCE = Decimal("0.000001")  # the venue counts shares in 6 decimals
CASH_TOLERANCE = Decimal("0.005")  # "to the cent"
__all__ = [
    "Difference",
    "RemotePosition",
    "VenueView",
    "compare",
    "fetch_positions",
    "parse_position",
    "read_venue",
]


@dataclass(frozen=True)
class VenueView:
    """What the venue says; a part it could not read is None (unknown, never taken as zero)."""

    data_api: dict[str, RemotePosition] | None = None  # token id -> position (absent: 0 shares)
    chain_tokens: dict[str, Decimal] | None = None  # token id -> CTF balance
    chain_cash: Decimal | None = None  # pUSD balance
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    kind: str  # "position" or "cash"
    source: str  # "chain" or "data_api"
    token_id: str  # "" for cash
    market: str
    ledger: Decimal  # settled + provisional (cash: with pending parts)
    venue: Decimal
    ledger_settled: Decimal  # without provisional parts

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "source": self.source,
            "token_id": self.token_id,
            "market": self.market,
            "ledger": str(self.ledger),
            "ledger_settled": str(self.ledger_settled),
            "venue": str(self.venue),
            "difference": str(self.venue - self.ledger),
        }


def _outside(venue: Decimal, a: Decimal, b: Decimal, tolerance: Decimal) -> bool:
    return venue < min(a, b) - tolerance or venue > max(a, b) + tolerance


def compare(
    positions: list[TokenPosition],
    cash: Decimal | None,
    pending_cash: Decimal,
    venue: VenueView,
    pending_shares: dict[str, tuple[Decimal, Decimal]] | None = None,
) -> list[Difference]:
    """Every token whose venue shares are outside what settlement in flight allows, and the cash likewise.

    A token's window spans settled and settled + provisional, widened by its provisional sells (gone from
    the chain at the match) and buys (there only once MINED): `pending_shares` from Ledger.pending_shares."""
    mine = {p.token_id: p for p in positions}
    found: list[Difference] = []
    sources: list[tuple[str, dict[str, Decimal]]] = []
    if venue.chain_tokens is not None:
        sources.append(("chain", venue.chain_tokens))
    if venue.data_api is not None:
        sources.append(("data_api", {t: p.size for t, p in venue.data_api.items()}))
    for source, theirs in sources:
        tokens = set(theirs) | {t for t, p in mine.items() if p.size != 0 or p.settled != 0}
        if source == "chain":
            tokens &= set(theirs)  # the chain is read for the tokens asked for: none missing means zero
        for token_id in sorted(tokens):
            ours = mine.get(token_id) or TokenPosition(token_id, "")
            venue_size = theirs.get(token_id, ZERO)
            sold, bought = (pending_shares or {}).get(token_id, (ZERO, ZERO))
            low = min(ours.settled, ours.size, ours.settled + sold)
            high = max(ours.settled, ours.size, ours.settled + bought)
            if _outside(venue_size, low, high, SIZE_TOLERANCE):
                market = ours.market or (
                    venue.data_api[token_id].condition_id
                    if venue.data_api and token_id in venue.data_api
                    else ""
                )
                found.append(
                    Difference("position", source, token_id, market, ours.size, venue_size, ours.settled)
                )
    if (
        venue.chain_cash is not None
        and cash is not None
        and _outside(venue.chain_cash, cash - pending_cash, cash, CASH_TOLERANCE)
    ):
        found.append(Difference("cash", "chain", "", "", cash, venue.chain_cash, cash - pending_cash))
    return found


async def read_venue(
    data_api_url: str | None,
    rpc_url: str | None,
    wallet: str,
    token_ids: list[str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_secs: float = 10.0,
) -> VenueView:
    """Read the Data API positions and the chain balances of `wallet` (what cannot be read stays None)."""
    errors: list[str] = []
    data_api = chain_tokens = chain_cash = None
    if data_api_url:
        try:
            async with httpx.AsyncClient(transport=transport, timeout=timeout_secs) as client:
                data_api = {p.token_id: p for p in await fetch_positions(client, data_api_url, wallet)}
        except PolydeskError as error:
            errors.append(f"data_api: {error}")
    if rpc_url:
        from shared.polymarket.chain import ChainReader  # web3 is slow to import: only when a chain is read

        reader = ChainReader(rpc_url, timeout_secs=timeout_secs)
        try:
            asked = sorted(set(token_ids) | set(data_api or ()))
            reading = await reader.read(wallet, asked)
            chain_tokens, chain_cash = dict(reading.token_balances), reading.collateral_balance
        except PolydeskError as error:
            errors.append(f"chain: {error}")
        finally:
            await reader.close()
    return VenueView(data_api, chain_tokens, chain_cash, errors)


def adopt(ledger: Ledger, venue: VenueView, *, positions: bool = True, cash: bool = True) -> list[Difference]:
    """Make the ledger equal the venue (chain first, else the Data API) and take its pUSD as ledger cash.

    Returns the differences found before adopting. Cash is adopted when there was none yet or it differs
    (not otherwise: a balance read while parts are pending would move pending cash into the base).
    `positions=False` / `cash=False` keep the ledger's (a base already set is then kept, a missing one is
    still taken: without it the ledger has no cash at all).
    """
    ledger_cash = ledger.cash_usd()
    found = compare(
        ledger.positions(), ledger_cash, ledger.pending_cash_usd(), venue, ledger.pending_shares()
    )
    chain_known = venue.chain_tokens is not None
    for diff in found if positions else ():
        if diff.kind != "position" or (chain_known and diff.source != "chain"):
            continue
        remote = venue.data_api.get(diff.token_id) if venue.data_api else None
        avg = remote.avg_price if remote else ledger.position(diff.token_id).avg_price
        ledger.adopt_position(diff.token_id, diff.market, diff.venue, avg)
    differs = any(d.kind == "cash" for d in found)
    if venue.chain_cash is not None and (ledger_cash is None or (cash and differs)):
        ledger.adopt_cash(venue.chain_cash)
    return found
