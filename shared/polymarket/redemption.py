"""Redeeming resolved positions on Polygon (§6): the chain reads that decide it, the signed transaction, and
what its receipt says was redeemed. web3.py against one JSON-RPC URL, signed with the wallet's own key.

CLOB V2 positions redeem into pUSD through the collateral adapters, the way polymarket-client 0.14.0's
`redeem_positions` does: `redeemPositions(pUSD, 0x0, conditionId, [1, 2])` sent to the CtfCollateralAdapter
for a standard market, to the NegRiskCtfCollateralAdapter for a neg-risk one (which redeems through the
NegRiskAdapter's `redeemPositions(conditionId, amounts)`). The adapter pulls the sender's whole balance of
both outcome tokens, so the wallet must have approved it on the CTF (`setApprovalForAll`, part of the SDK's
trading approvals); it pays 1 pUSD per winning share. Calling the CTF (or the NegRiskAdapter) directly would
pay USDC.e, which the V2 CLOB does not count as collateral.

Only an EOA wallet (signature type 0) can send this itself: a proxy or Safe wallet's positions are redeemed
through the wallet contract or Polymarket's relayer, which this module does not do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_typing import HexStr
from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound

from shared.errors import TransientVenueError, VenueRejected
from shared.polymarket.chain import CTF, DECIMALS, ERC1155_READS_ABI, PUSD

CTF_COLLATERAL_ADAPTER = "0xAdA100Db00Ca00073811820692005400218FcE1f"
NEG_RISK_CTF_COLLATERAL_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"
BINARY_INDEX_SETS = [1, 2]
GAS_MARGIN = Decimal("1.25")  # on top of eth_estimateGas
TRANSFER_BATCH = "0x" + keccak(text="TransferBatch(address,address,address,uint256[],uint256[])").hex()

_REDEEM_ABI = [
    {
        "name": "redeemPositions",
        "type": "function",
        "stateMutability": "nonpayable",
        "outputs": [],
        "inputs": [
            {"name": "collateralToken", "type": "address"},
            {"name": "parentCollectionId", "type": "bytes32"},
            {"name": "conditionId", "type": "bytes32"},
            {"name": "indexSets", "type": "uint256[]"},
        ],
    },
]
_CTF_ABI = [  # the resolution reads, then the ERC-1155 reads chain.py already declares
    {
        "name": "payoutDenominator",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "conditionId", "type": "bytes32"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "payoutNumerators",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "conditionId", "type": "bytes32"}, {"name": "index", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    *ERC1155_READS_ABI,
]


class Replaced(VenueRejected):
    """The signed transaction can never be mined: its nonce was used by another transaction of the wallet."""


def adapter_for(neg_risk: bool) -> str:
    return NEG_RISK_CTF_COLLATERAL_ADAPTER if neg_risk else CTF_COLLATERAL_ADAPTER


@dataclass(frozen=True)
class Payouts:
    """A resolved condition's payout per outcome index, as a fraction of 1 pUSD per share."""

    fractions: tuple[Decimal, ...]

    def of(self, index: int) -> Decimal:
        return self.fractions[index]


@dataclass(frozen=True)
class SignedRedemption:
    condition_id: str
    tx_hash: str
    raw: str  # the signed transaction, 0x hex: sent again as is after a restart (same nonce, same hash)
    nonce: int


@dataclass(frozen=True)
class RedeemedToken:
    token_id: str
    shares: Decimal
    payout_usd: Decimal


@dataclass(frozen=True)
class RedemptionReceipt:
    tx_hash: str
    succeeded: bool
    block_number: int
    tokens: list[RedeemedToken]


def redeemed_tokens(
    logs: Iterable[dict], wallet: str, token_payouts: dict[str, Decimal]
) -> list[RedeemedToken]:
    """The tokens the receipt's CTF TransferBatch logs moved out of `wallet` (the adapter pulling them), each
    with its payout. A token missing from `token_payouts` (not this condition's) pays 0."""
    wallet_topic = "0x" + bytes.fromhex(wallet.lower().removeprefix("0x")).rjust(32, b"\x00").hex()
    moved: dict[str, int] = {}
    for log in logs:
        topics = [_hex(t) for t in log["topics"]]
        if _hex(log["address"]) != CTF.lower() or len(topics) != 4 or topics[0] != TRANSFER_BATCH:
            continue
        if topics[2] != wallet_topic:
            continue
        ids, values = abi_decode(["uint256[]", "uint256[]"], bytes.fromhex(_hex(log["data"])[2:]))
        for token, value in zip(ids, values):
            moved[str(token)] = moved.get(str(token), 0) + value
    tokens = []
    for token_id, raw in moved.items():
        if raw:
            shares = Decimal(raw) / DECIMALS
            tokens.append(RedeemedToken(token_id, shares, shares * token_payouts.get(token_id, Decimal(0))))
    return tokens


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


class ChainRedeemer:
    """One wallet's redemptions; every RPC failure is raised as TransientVenueError, a revert the chain
    predicts (eth_estimateGas) as VenueRejected."""

    def __init__(
        self, rpc_url: str, private_key: str, *, timeout_secs: float = 10.0, chain_id: int = 137
    ) -> None:
        self._w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_secs}))
        self._account = Account.from_key(private_key)
        self._chain_id = chain_id
        self._timeout = timeout_secs
        self._ctf = self._w3.eth.contract(address=AsyncWeb3.to_checksum_address(CTF), abi=_CTF_ABI)
        self.wallet = self._account.address

    async def _rpc(self, coroutine):
        try:
            return await asyncio.wait_for(coroutine, timeout=self._timeout * 2)
        except (TransientVenueError, VenueRejected):
            raise
        except ContractLogicError as error:
            raise VenueRejected(f"reverted: {error}") from error
        except Exception as error:  # web3 raises many unrelated types (aiohttp, RPC, decoding)
            raise TransientVenueError(f"rpc: {type(error).__name__}: {error}") from error

    async def payouts(self, condition_id: str) -> Payouts | None:
        """The condition's payouts, or None while it is unresolved (denominator 0)."""
        condition = _bytes32(condition_id)
        denominator = await self._rpc(self._ctf.functions.payoutDenominator(condition).call())
        if not denominator:
            return None
        numerators = [
            await self._rpc(self._ctf.functions.payoutNumerators(condition, i).call()) for i in (0, 1)
        ]
        return Payouts(tuple(Decimal(n) / Decimal(denominator) for n in numerators))

    async def balances(self, token_ids: Iterable[str]) -> dict[str, int]:
        """The wallet's CTF balance of each token, in 6-decimal base units."""
        return {
            token_id: await self._rpc(self._ctf.functions.balanceOf(self.wallet, int(token_id)).call())
            for token_id in token_ids
        }

    async def approved(self, neg_risk: bool) -> bool:
        operator = AsyncWeb3.to_checksum_address(adapter_for(neg_risk))
        return bool(await self._rpc(self._ctf.functions.isApprovedForAll(self.wallet, operator).call()))

    async def sign(self, condition_id: str, neg_risk: bool) -> SignedRedemption:
        """Build (nonce, fees, gas from eth_estimateGas: raises VenueRejected when the call would revert) and
        sign the redemption; nothing is sent."""
        adapter = self._w3.eth.contract(
            address=AsyncWeb3.to_checksum_address(adapter_for(neg_risk)), abi=_REDEEM_ABI
        )
        call = adapter.functions.redeemPositions(
            AsyncWeb3.to_checksum_address(PUSD), b"\x00" * 32, _bytes32(condition_id), BINARY_INDEX_SETS
        )
        nonce = await self._rpc(self._w3.eth.get_transaction_count(self.wallet, "pending"))
        gas = await self._rpc(call.estimate_gas({"from": self.wallet}))
        tx = await self._rpc(
            call.build_transaction(
                {"from": self.wallet, "nonce": nonce, "chainId": self._chain_id, "gas": int(gas * GAS_MARGIN)}
            )
        )
        signed = self._account.sign_transaction(tx)
        return SignedRedemption(
            condition_id=condition_id,
            tx_hash=_hex(signed.hash),
            raw=_hex(signed.raw_transaction),
            nonce=nonce,
        )

    async def send(self, signed: SignedRedemption) -> None:
        """Send the signed transaction; one the node already has (a resend after a restart) is fine. Raises
        Replaced when its nonce went to another transaction (it will never be mined)."""
        try:
            await self._rpc(self._w3.eth.send_raw_transaction(HexStr(signed.raw)))
        except TransientVenueError as error:
            text = str(error).lower()
            if "already known" in text:
                return
            if "nonce too low" in text:
                if await self.receipt(signed.tx_hash) is not None:
                    return
                raise Replaced(
                    f"nonce {signed.nonce} of {signed.tx_hash} was used by another transaction"
                ) from None
            raise

    async def receipt(self, tx_hash: str) -> dict | None:
        try:
            return dict(await self._w3.eth.get_transaction_receipt(HexStr(tx_hash)))
        except TransactionNotFound:
            return None
        except Exception as error:  # see _rpc
            raise TransientVenueError(f"rpc: {type(error).__name__}: {error}") from error

    def read_receipt(self, receipt: dict, token_payouts: dict[str, Decimal]) -> RedemptionReceipt:
        return RedemptionReceipt(
            tx_hash=_hex(receipt["transactionHash"]),
            succeeded=receipt["status"] == 1,
            block_number=int(receipt["blockNumber"]),
            tokens=redeemed_tokens(receipt["logs"], self.wallet, token_payouts)
            if receipt["status"] == 1
            else [],
        )

    async def close(self) -> None:
        provider = self._w3.provider
        disconnect = getattr(provider, "disconnect", None)
        if disconnect is not None:
            await disconnect()


def _bytes32(condition_id: str) -> bytes:
    raw = bytes.fromhex(condition_id.removeprefix("0x"))
    if len(raw) != 32:
        raise VenueRejected(f"condition id {condition_id!r} is not 32 bytes")
    return raw
