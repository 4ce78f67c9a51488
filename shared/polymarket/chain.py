"""On-chain reads on Polygon (§6): pUSD balance and allowances to the exchange contracts, CTF (ERC-1155)
balances and operator approvals, through web3.py against one JSON-RPC URL. Read-only; no keys.

Amounts are 6-decimal integers on chain and come back as Decimal pUSD / shares. Any RPC failure is
raised as TransientVenueError: the caller decides whether to warn and retry (it must never crash).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from web3 import AsyncHTTPProvider, AsyncWeb3

from shared.errors import TransientVenueError

# Production addresses (protocol notes §6.1); the paper exchange serves the same ones.
PUSD = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
CTF = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
SPENDERS: dict[str, str] = {
    "ctf_exchange": "0xE111180000d2663C0091e4f400237545B87B996B",
    "neg_risk_exchange": "0xe2222d279d744050d28e00520010520000310F59",
    "neg_risk_adapter": "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296",
}
DECIMALS = Decimal(10) ** 6

_ERC20_ABI = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "account", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "allowance",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]
ERC1155_READS_ABI = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "account", "type": "address"}, {"name": "id", "type": "uint256"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "isApprovedForAll",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "account", "type": "address"}, {"name": "operator", "type": "address"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]


@dataclass(frozen=True)
class AccountReading:
    wallet: str
    collateral_balance: Decimal
    allowances: dict[str, Decimal] = field(default_factory=dict)  # spender name -> pUSD
    operator_approvals: dict[str, bool] = field(default_factory=dict)  # spender name -> CTF approval
    token_balances: dict[str, Decimal] = field(default_factory=dict)  # token id -> shares
    block_number: int | None = None


class ChainReader:
    """Reads one wallet's balances and approvals; every call bounded by `timeout_secs`."""

    def __init__(
        self,
        rpc_url: str,
        *,
        timeout_secs: float = 10.0,
        spenders: dict[str, str] | None = None,
        pusd: str = PUSD,
        ctf: str = CTF,
    ) -> None:
        self._w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_secs}))
        self._timeout = timeout_secs
        self._spenders = {
            name: AsyncWeb3.to_checksum_address(a) for name, a in (spenders or SPENDERS).items()
        }
        self._pusd = self._w3.eth.contract(address=AsyncWeb3.to_checksum_address(pusd), abi=_ERC20_ABI)
        self._ctf = self._w3.eth.contract(address=AsyncWeb3.to_checksum_address(ctf), abi=ERC1155_READS_ABI)

    async def close(self) -> None:
        """Close the provider's HTTP session (a reader used once must not leave it to the garbage collector)."""
        disconnect = getattr(self._w3.provider, "disconnect", None)
        if disconnect is not None:
            await disconnect()

    async def read(self, wallet: str, token_ids: Iterable[str] = ()) -> AccountReading:
        """Balance, allowances, approvals and the given tokens' balances at the latest block.

        Raises TransientVenueError when the RPC cannot be reached or answers with an error."""
        try:
            return await asyncio.wait_for(self._read(wallet, list(token_ids)), timeout=self._timeout * 2)
        except TransientVenueError:
            raise
        except Exception as error:  # web3 raises many unrelated types (aiohttp, RPC errors, decoding)
            raise TransientVenueError(f"rpc: {type(error).__name__}: {error}") from error

    async def _read(self, wallet: str, token_ids: list[str]) -> AccountReading:
        owner = AsyncWeb3.to_checksum_address(wallet)
        block = await self._w3.eth.block_number
        balance = await self._pusd.functions.balanceOf(owner).call(block_identifier=block)
        allowances, approvals = {}, {}
        for name, spender in self._spenders.items():
            allowances[name] = (
                Decimal(await self._pusd.functions.allowance(owner, spender).call(block_identifier=block))
                / DECIMALS
            )
            approvals[name] = bool(
                await self._ctf.functions.isApprovedForAll(owner, spender).call(block_identifier=block)
            )
        tokens = {}
        for token_id in token_ids:
            raw = await self._ctf.functions.balanceOf(owner, int(token_id)).call(block_identifier=block)
            tokens[token_id] = Decimal(raw) / DECIMALS
        return AccountReading(
            wallet=wallet,
            collateral_balance=Decimal(balance) / DECIMALS,
            allowances=allowances,
            operator_approvals=approvals,
            token_balances=tokens,
            block_number=int(block),
        )
