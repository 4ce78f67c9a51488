"""Venue preflight: what must hold before real money trades, each check one line (`polydesk preflight`, and
the executor at start in live mode).

Checks, in order: the venue answers; the region is not geoblocked (Polymarket's `/api/geoblock` on the main
site; close-only passes with a warning, risk then lets only reducing orders through); our clock is within
`max_clock_skew_secs` of the venue's `/time`; the signature type fits the funder wallet; API credentials
derive (L1); the funder holds pUSD, has allowances to every exchange contract (standard, neg-risk, and the
neg-risk adapter) and has approved them for its CTF tokens; a heartbeat is accepted. A check that cannot
run because an earlier one failed is SKIP, never OK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import httpx
from eth_account import Account

from services.executor import venue as venue_module
from services.executor.config import ExecutorSettings
from shared.errors import ConfigurationError, PolydeskError
from shared.polymarket.chain import SPENDERS, ChainReader
from shared.polymarket.clob_public import check_ok, fetch_server_time
from shared.polymarket.geoblock import fetch_geoblock, region_status
from shared.polymarket.sdk_env import rpc_url_of, wallet_type_of
from shared.polymarket.wallets import SignatureType

Status = Literal["OK", "WARN", "FAIL", "SKIP"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


class Preflight:
    def __init__(self, settings: ExecutorSettings, *, timeout_secs: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout_secs
        self.results: list[Check] = []
        self.environment = venue_module.sdk_environment(settings)

    def _add(self, name: str, status: Status, detail: str) -> Check:
        check = Check(name, status, detail)
        self.results.append(check)
        return check

    async def run(self) -> list[Check]:
        reachable = await self._reachable()
        await self._geoblock()
        if reachable:
            await self._clock()
        else:
            self._add("clock skew", "SKIP", "venue unreachable")
        funder = self._wallet()
        if reachable and funder:
            venue = await self._credentials()
        else:
            venue = None
            self._add("API credentials", "SKIP", "venue unreachable" if not reachable else "no usable wallet")
        if venue is None:
            reason = "venue unreachable" if not reachable else "no usable wallet / credentials"
            for name in ("pUSD balance and allowances", "CTF approvals", "heartbeat"):
                self._add(name, "SKIP", reason)
            return self.results
        assert funder is not None  # a venue is only connected for a usable wallet
        try:
            await self._funds(funder)
            await self._heartbeat(venue)
        finally:
            await venue.close()
        return self.results

    # ---- the checks -----------------------------------------------------------------------------

    async def _reachable(self) -> bool:
        url = self.settings.clob_url.rstrip("/") + "/ok"
        try:
            await check_ok(self.settings.clob_url, timeout_secs=self.timeout)
        except httpx.HTTPError as error:
            self._add("venue reachable", "FAIL", f"{url}: {type(error).__name__}: {error}")
            return False
        self._add("venue reachable", "OK", self.settings.clob_url)
        return True

    async def _geoblock(self) -> None:
        url = self.settings.effective_geoblock_url()
        try:
            answer = await fetch_geoblock(url, timeout_secs=self.timeout)
        except PolydeskError as error:
            self._add("region (geoblock)", "FAIL", f"unknown: {error}")
            return
        where = f"{answer.country}{'-' + answer.region if answer.region else ''} ({answer.ip})"
        status = region_status(answer)
        if status == "blocked":
            self._add("region (geoblock)", "FAIL", f"blocked: orders from {where} are refused by the venue")
        elif status == "close_only":
            self._add(
                "region (geoblock)",
                "WARN",
                f"close-only: {where} may only reduce positions (risk passes reducing orders only)",
            )
        else:
            self._add("region (geoblock)", "OK", where)

    async def _clock(self) -> None:
        url = self.settings.clob_url.rstrip("/") + "/time"
        try:
            venue_secs, started, ended = await fetch_server_time(
                self.settings.clob_url, timeout_secs=self.timeout
            )
        except (httpx.HTTPError, ValueError, TypeError) as error:
            self._add("clock skew", "FAIL", f"{url}: {type(error).__name__}: {error}")
            return
        # The venue's /time is whole seconds: half a second of it is rounding, not skew.
        skew = venue_secs + 0.5 - (started + ended) / 2
        limit = self.settings.max_clock_skew_secs
        status: Status = "OK" if abs(skew) <= limit + 0.5 else "FAIL"
        self._add(
            "clock skew",
            status,
            f"{skew:+.1f}s against the venue (limit {limit:g}s)"
            + ("" if status == "OK" else ": fix the clock (NTP); signed requests carry our time"),
        )

    def _wallet(self) -> str | None:
        s = self.settings
        if s.private_key is None:
            self._add("signature type and funder", "FAIL", "POLYDESK_PRIVATE_KEY (or _FILE) is not set")
            return None
        signer = Account.from_key(s.private_key.get_secret_value()).address
        expected = SignatureType(s.signature_type)
        funder = s.wallet_address or signer
        seen = wallet_type_of(self.environment, signer, funder)
        if seen != expected.name and not (seen is None and expected is SignatureType.DEPOSIT_WALLET):
            self._add(
                "signature type and funder",
                "FAIL",
                venue_module.wallet_mismatch(expected, seen, funder, signer),
            )
            return None
        self._add("signature type and funder", "OK", f"{int(expected)} {expected.name}, funder {funder}")
        return funder

    async def _credentials(self) -> venue_module.PolymarketVenue | None:
        try:
            venue = await venue_module.connect(self.settings)
        except (ConfigurationError, PolydeskError) as error:
            self._add("API credentials", "FAIL", f"{error}")
            return None
        self._add("API credentials", "OK", "derived" if not self.settings.api_key else "given, accepted")
        return venue

    async def _funds(self, funder: str) -> None:
        rpc = self.settings.chain_rpc_url() or rpc_url_of(self.environment)
        reader = ChainReader(rpc, timeout_secs=self.timeout)
        try:
            reading = await reader.read(funder)
        except PolydeskError as error:
            self._add("pUSD balance and allowances", "FAIL", f"unknown: {error}")
            self._add("CTF approvals", "FAIL", "unknown: the chain could not be read")
            return
        finally:
            await reader.close()
        short = [name for name in SPENDERS if reading.allowances.get(name, Decimal(0)) <= 0]
        if reading.collateral_balance <= 0 or short:
            problems = (
                [f"balance {reading.collateral_balance} pUSD"] if reading.collateral_balance <= 0 else []
            )
            problems += [f"no allowance to {name} ({SPENDERS[name]})" for name in short]
            self._add("pUSD balance and allowances", "FAIL", "; ".join(problems))
        else:
            self._add(
                "pUSD balance and allowances",
                "OK",
                f"{reading.collateral_balance} pUSD; allowances to {', '.join(SPENDERS)}",
            )
        missing = [name for name in SPENDERS if not reading.operator_approvals.get(name)]
        if missing:
            self._add(
                "CTF approvals",
                "FAIL",
                "; ".join(
                    f"{name} ({SPENDERS[name]}) not approved for the funder's outcome tokens"
                    for name in missing
                ),
            )
        else:
            self._add("CTF approvals", "OK", ", ".join(SPENDERS))

    async def _heartbeat(self, venue: venue_module.PolymarketVenue) -> None:
        try:
            heartbeat_id = await venue.heartbeat("")
        except PolydeskError as error:
            self._add("heartbeat", "FAIL", f"not accepted: {error}")
            return
        self._add(
            "heartbeat", "OK" if heartbeat_id else "FAIL", "accepted" if heartbeat_id else "no heartbeat id"
        )


async def run_preflight(settings: ExecutorSettings) -> list[Check]:
    return await Preflight(settings).run()


def failed(results: Sequence[Check]) -> list[Check]:
    return [c for c in results if c.status in ("FAIL", "SKIP")]


def table(results: Sequence[Check]) -> str:
    width = max(len(c.name) for c in results)
    return "\n".join(f"{c.status:<4}  {c.name.ljust(width)}  {c.detail}" for c in results)
