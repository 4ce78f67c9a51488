"""Redeeming resolved positions: find them, send one signed redemption per market, report what it paid.

A pass: the wallet's positions from the Data API name the candidate markets (or one market, on demand);
the chain decides (the CTF's payout for the condition, the wallet's balance of both outcome tokens, the
adapter's approval); the redemption is signed (shared.polymarket.redemption), recorded in the executor's
SQLite as SENT *before* it is sent, then sent, and its receipt awaited. A successful receipt becomes one
PositionRedeemed per token it burnt, each on `fills` exactly once (the executor's report keys: Redis seen
set + store). A SENT row found at start (a crash between send and receipt) is sent again as the same signed
bytes (same nonce and hash: it cannot pay twice) and finished the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

from services.executor.config import ExecutorSettings
from shared import metrics
from shared.errors import ConfigurationError, PolydeskError
from shared.logging import EventLog
from shared.messages import Envelope, PositionRedeemed, deterministic_id
from shared.polymarket.clob_public import fetch_market_tokens
from shared.polymarket.positions import fetch_positions
from shared.polymarket.redemption import ChainRedeemer, Payouts, Replaced, SignedRedemption
from shared.streams import FILLS, Output

log = logging.getLogger(__name__)
PRODUCER = "executor"
RECEIPT_POLL_SECS = 0.5

SCHEMA = """
CREATE TABLE IF NOT EXISTS redemptions (
    tx_hash TEXT PRIMARY KEY,
    condition_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    token_payouts TEXT NOT NULL,  -- JSON {token_id: payout fraction}
    state TEXT NOT NULL,          -- SENT, DONE, REVERTED, DROPPED (its nonce went to another tx)
    created_ts REAL NOT NULL,
    updated_ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS redemptions_state ON redemptions(state);
"""

Publish = Callable[[Sequence[tuple[str, Output]]], Awaitable[None]]


@dataclass(frozen=True)
class RedemptionRow:
    tx_hash: str
    condition_id: str
    raw: str
    nonce: int
    token_payouts: dict[str, Decimal]
    state: str


class RedemptionStore:
    """The redemptions table, in the executor's SQLite file (its own connection)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._clock = clock

    def add_sent(self, signed: SignedRedemption, token_payouts: dict[str, Decimal]) -> None:
        now = self._clock()
        payouts = json.dumps({token: str(value) for token, value in token_payouts.items()})
        self._db.execute(
            "INSERT INTO redemptions VALUES (?, ?, ?, ?, ?, 'SENT', ?, ?)",
            (signed.tx_hash, signed.condition_id, signed.raw, signed.nonce, payouts, now, now),
        )

    def set_state(self, tx_hash: str, state: str) -> None:
        self._db.execute(
            "UPDATE redemptions SET state = ?, updated_ts = ? WHERE tx_hash = ?",
            (state, self._clock(), tx_hash),
        )

    def in_state(self, state: str) -> list[RedemptionRow]:
        rows = self._db.execute(
            "SELECT tx_hash, condition_id, raw, nonce, token_payouts, state FROM redemptions "
            "WHERE state = ? ORDER BY created_ts",
            (state,),
        ).fetchall()
        return [
            RedemptionRow(r[0], r[1], r[2], r[3], {k: Decimal(v) for k, v in json.loads(r[4]).items()}, r[5])
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()


@dataclass
class Outcome:
    """What a pass did with one market, for the CLI and the events log."""

    condition_id: str
    result: str  # redeemed, not_resolved, nothing_held, not_approved, reverted, failed, pending
    detail: str = ""
    tx_hash: str | None = None
    messages: list[PositionRedeemed] = field(default_factory=list)


class Redeemer:
    def __init__(
        self,
        chain: ChainRedeemer,
        store: RedemptionStore,
        publish: Publish,
        events: EventLog,
        *,
        clob_url: str,
        data_api_url: str,
        receipt_timeout_secs: float = 120.0,
        http_timeout_secs: float = 10.0,
    ) -> None:
        self.chain = chain
        self.store = store
        self.publish = publish
        self.events = events
        self.clob_url = clob_url
        self.data_api_url = data_api_url
        self.receipt_timeout_secs = receipt_timeout_secs
        self.http_timeout_secs = http_timeout_secs
        self._markets: dict[str, tuple[tuple[str, ...], bool]] = {}
        self._blocked: set[str] = set()  # markets already reported as not approved
        self._passes_logged = False  # the first pass is logged even when it found nothing

    async def close(self) -> None:
        await self.chain.close()
        self.store.close()

    # ---- a pass ---------------------------------------------------------------------------------

    async def run_pass(self, market: str | None = None) -> list[Outcome]:
        """Finish what an earlier run sent, then redeem every resolved held market (or just `market`)."""
        outcomes = await self.finish_sent()
        candidates = [market] if market else await self.candidates()
        for condition_id in candidates:
            if any(o.condition_id == condition_id for o in outcomes):
                continue
            try:
                outcomes.append(await self.redeem_market(condition_id))
            except PolydeskError as error:
                metrics.EXECUTOR_REDEMPTIONS.labels(result="failed").inc()
                self.events.emit("redeem_failed", market=condition_id, error=str(error))
                outcomes.append(Outcome(condition_id, "failed", str(error)))
        return outcomes

    async def candidates(self) -> list[str]:
        """Condition ids of the wallet's positions per the Data API (the chain then decides)."""
        async with httpx.AsyncClient(timeout=self.http_timeout_secs) as http:
            positions = await fetch_positions(http, self.data_api_url, self.chain.wallet)
        return sorted({p.condition_id for p in positions if p.size > 0})

    async def _market(self, condition_id: str) -> tuple[tuple[str, ...], bool]:
        if condition_id not in self._markets:
            self._markets[condition_id] = await fetch_market_tokens(
                self.clob_url, condition_id, timeout_secs=self.http_timeout_secs
            )
        return self._markets[condition_id]

    async def redeem_market(self, condition_id: str) -> Outcome:
        token_ids, neg_risk = await self._market(condition_id)
        payouts = await self.chain.payouts(condition_id)
        if payouts is None:
            return Outcome(condition_id, "not_resolved", "the condition's payout is not reported yet")
        held = await self.chain.balances(token_ids)
        if not any(held.values()):
            return Outcome(condition_id, "nothing_held", "no outcome token of this market in the wallet")
        if not await self.chain.approved(neg_risk):
            detail = (
                "the wallet has not approved the collateral adapter on the CTF (setApprovalForAll; "
                "part of the SDK's trading approvals)"
            )
            if condition_id not in self._blocked:
                self._blocked.add(condition_id)
                metrics.EXECUTOR_REDEMPTIONS.labels(result="not_approved").inc()
                self.events.emit("redeem_blocked", market=condition_id, reason=detail)
            return Outcome(condition_id, "not_approved", detail)
        signed = await self.chain.sign(condition_id, neg_risk)
        token_payouts = _token_payouts(token_ids, payouts)
        self.store.add_sent(signed, token_payouts)  # before sending: a crash after the send still finds it
        self.events.emit(
            "redeem_sent",
            market=condition_id,
            tx_hash=signed.tx_hash,
            nonce=signed.nonce,
            neg_risk=neg_risk,
            shares={t: str(Decimal(v) / 10**6) for t, v in held.items()},
        )
        await self.chain.send(signed)
        row = RedemptionRow(signed.tx_hash, condition_id, signed.raw, signed.nonce, token_payouts, "SENT")
        return await self._await_receipt(row)

    async def finish_sent(self) -> list[Outcome]:
        """Every SENT redemption (sent by a run that stopped before its receipt): send the same bytes again
        (a node that has it says so; a mined one has its receipt), then wait for the receipt."""
        outcomes = []
        for row in self.store.in_state("SENT"):
            try:
                if await self.chain.receipt(row.tx_hash) is None:
                    await self.chain.send(SignedRedemption(row.condition_id, row.tx_hash, row.raw, row.nonce))
                outcomes.append(await self._await_receipt(row))
            except Replaced as error:  # never mined and never will be: the market is looked at afresh
                self.store.set_state(row.tx_hash, "DROPPED")
                metrics.EXECUTOR_REDEMPTIONS.labels(result="dropped").inc()
                self.events.emit(
                    "redeem_dropped", market=row.condition_id, tx_hash=row.tx_hash, reason=str(error)
                )
            except PolydeskError as error:
                outcomes.append(Outcome(row.condition_id, "pending", str(error), row.tx_hash))
        return outcomes

    async def _await_receipt(self, row: RedemptionRow) -> Outcome:
        deadline = time.monotonic() + self.receipt_timeout_secs
        while (receipt := await self.chain.receipt(row.tx_hash)) is None:
            if time.monotonic() > deadline:
                return Outcome(
                    row.condition_id, "pending", "no receipt yet; looked at again next pass", row.tx_hash
                )
            await asyncio.sleep(RECEIPT_POLL_SECS)
        return await self._complete(row, receipt)

    async def _complete(self, row: RedemptionRow, receipt: dict) -> Outcome:
        read = self.chain.read_receipt(receipt, row.token_payouts)
        if not read.succeeded:
            self.store.set_state(row.tx_hash, "REVERTED")
            metrics.EXECUTOR_REDEMPTIONS.labels(result="reverted").inc()
            self.events.emit(
                "redeem_reverted", market=row.condition_id, tx_hash=row.tx_hash, block=read.block_number
            )
            return Outcome(row.condition_id, "reverted", "the transaction reverted on chain", row.tx_hash)
        keyed = []
        redeemed: list[PositionRedeemed] = []
        for token in read.tokens:
            key = f"redeem:{row.tx_hash}:{token.token_id}"
            message = PositionRedeemed(
                envelope=Envelope.new(PRODUCER, message_id=deterministic_id(key)),
                market=row.condition_id,
                token_id=token.token_id,
                shares=token.shares,
                payout_usd=token.payout_usd,
                transaction_hash=row.tx_hash,
            )
            keyed.append((key, Output(FILLS, message)))
            redeemed.append(message)
        await self.publish(keyed)
        self.store.set_state(row.tx_hash, "DONE")
        payout = sum((t.payout_usd for t in read.tokens), Decimal(0))
        metrics.EXECUTOR_REDEMPTIONS.labels(result="redeemed").inc()
        metrics.EXECUTOR_REDEEMED_USD.inc(float(payout))
        self.events.emit(
            "position_redeemed",
            market=row.condition_id,
            tx_hash=row.tx_hash,
            block=read.block_number,
            payout_usd=str(payout),
            tokens={t.token_id: str(t.shares) for t in read.tokens},
        )
        return Outcome(
            row.condition_id,
            "redeemed",
            f"paid {payout} pUSD",
            row.tx_hash,
            redeemed,
        )

    # ---- the executor's task --------------------------------------------------------------------

    async def run_logged(self) -> None:
        """One auto-redeem pass (a periodic job; the runtime logs and backs off a failed one). The first
        pass, and every pass that looked at a market, is in the events log (`redeem_pass`)."""
        outcomes = await self.run_pass()
        for outcome in outcomes:
            if outcome.result in ("failed", "pending"):
                log.warning("redemption of %s: %s: %s", outcome.condition_id, outcome.result, outcome.detail)
        if outcomes or not self._passes_logged:
            self.events.emit("redeem_pass", markets={o.condition_id: o.result for o in outcomes})
            self._passes_logged = True


def _token_payouts(token_ids: Sequence[str], payouts: Payouts) -> dict[str, Decimal]:
    return {token_id: payouts.of(index) for index, token_id in enumerate(token_ids)}


def unavailable(settings: ExecutorSettings) -> str | None:
    """Why these settings cannot redeem (the message names the setting), or None when they can."""
    if settings.private_key is None:
        return "POLYDESK_PRIVATE_KEY: redemption is signed with the wallet's key"
    if settings.signature_type != 0:
        return (
            "POLYDESK_SIGNATURE_TYPE: redemption is sent by the signing key itself, so it needs an EOA wallet "
            "(0); a proxy or Safe wallet's positions are redeemed through the wallet or Polymarket's relayer"
        )
    if settings.chain_rpc_url() is None:
        return "POLYDESK_RPC_URL: a Polygon JSON-RPC URL is needed to redeem in production"
    return None


def from_settings(settings: ExecutorSettings, publish: Publish, events: EventLog) -> Redeemer:
    """A Redeemer over the executor's SQLite file; raises ConfigurationError naming what is missing."""
    reason = unavailable(settings)
    if reason is not None:
        raise ConfigurationError(reason)
    assert settings.private_key is not None
    chain = ChainRedeemer(
        str(settings.chain_rpc_url()),
        settings.private_key.get_secret_value(),
        timeout_secs=settings.submit_timeout_secs,
        chain_id=settings.chain_id,
    )
    if settings.wallet_address and settings.wallet_address.lower() != chain.wallet.lower():
        raise ConfigurationError(
            "POLYDESK_WALLET_ADDRESS: is not the signing key's address; an EOA redeems its own positions"
        )
    return Redeemer(
        chain,
        RedemptionStore(settings.db_path()),
        publish,
        events,
        clob_url=settings.clob_url,
        data_api_url=settings.positions_url(),
        receipt_timeout_secs=settings.redeem_receipt_timeout_secs,
    )
