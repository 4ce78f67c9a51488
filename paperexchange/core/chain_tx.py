"""Signed transactions on the paper chain: checked at send as a Polygon node checks them, mined into the next
~2 s block, with receipts and logs that web3.py reads unchanged.

Send checks (JSON-RPC error, nothing recorded): the raw bytes decode (legacy EIP-155 or typed 0x01/0x02),
the chain id is 137, the signature recovers a sender (which is who the call runs as: there is no other
"from"), the nonce is the sender's next one, the gas limit covers the intrinsic 21 000, the fee reaches the
base fee, and the target is a contract call the paper chain models (paperexchange.core.redemption). Execution
happens when the block that includes it is reached: a revert or a gas limit below what the call uses gives a
receipt with status 0 and no state change, as on chain. A nonce above the next one is refused here (a real
node would hold it in its pool until the gap fills): stricter, listed in docs/paper-exchange.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rlp
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes

from paperexchange.core import config, redemption
from paperexchange.core.clock import Clock
from paperexchange.core.exchange import Exchange
from paperexchange.core.redemption import Reverted

BLOCK_SECS = 2.0
GENESIS = 1_590_000_000  # around Polygon PoS mainnet launch: block numbers land in a realistic range
BASE_FEE = 30 * 10**9
INTRINSIC_GAS = 21_000


class TxRejected(Exception):
    """A transaction a node refuses at eth_sendRawTransaction (JSON-RPC error -32000)."""


@dataclass
class PaperTx:
    hash: str
    sender: str
    to: str
    data: str
    nonce: int
    gas: int
    gas_price: int  # the effective price: legacy gasPrice, or min(maxFee, base + priority)
    tx_type: int
    block: int  # the block that includes it
    receipt: dict | None = None
    fields: dict = field(default_factory=dict)


def block_at(now: float) -> int:
    return int((now - GENESIS) / BLOCK_SECS)


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def decode_raw(raw_hex: str) -> tuple[dict, str, int]:
    """(fields, sender, type) of a signed raw transaction; raises TxRejected."""
    try:
        raw = bytes.fromhex(str(raw_hex).removeprefix("0x"))
        if raw and raw[0] in (1, 2):
            fields, tx_type = dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict()), raw[0]
        elif raw and raw[0] >= 0xC0:
            fields, tx_type = dict(rlp.decode(raw, LegacyTransaction).as_dict()), 0
            if fields["v"] in (27, 28):
                raise TxRejected("only replay-protected (EIP-155) transactions allowed over RPC")
            fields["chainId"] = (fields["v"] - 35) // 2
        else:
            raise TxRejected("transaction type not supported")
    except TxRejected:
        raise
    except Exception as error:  # noqa: BLE001 - rlp / eth_account raise many types for garbage
        raise TxRejected(f"rlp: {type(error).__name__}: undecodable transaction") from None
    try:
        sender = Account.recover_transaction(raw).lower()
    except Exception:  # noqa: BLE001 - a bad signature raises from several layers
        raise TxRejected("invalid sender") from None
    return fields, sender, tx_type


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value or "0x").lower()


class PaperChain:
    def __init__(self, exchange: Exchange, clock: Clock) -> None:
        self._exchange, self._clock = exchange, clock
        self._mined_nonce: dict[str, int] = {}
        self._txs: dict[str, PaperTx] = {}
        self._pending: list[PaperTx] = []

    def block(self) -> int:
        return block_at(self._clock.now())

    def nonce(self, address: str, pending: bool = False) -> int:
        address = address.lower()
        count = self._mined_nonce.get(address, 0)
        if pending:
            count += sum(1 for tx in self._pending if tx.sender == address)
        return count

    def send_raw(self, raw_hex: str) -> str:
        self.mine()
        fields, sender, tx_type = decode_raw(raw_hex)
        tx_hash = "0x" + keccak(bytes.fromhex(str(raw_hex).removeprefix("0x"))).hex()
        if tx_hash in self._txs:
            raise TxRejected("already known")
        if fields.get("chainId") != config.CHAIN_ID:
            raise TxRejected(f"invalid chain id {fields.get('chainId')}: this chain is {config.CHAIN_ID}")
        expected = self.nonce(sender, pending=True)
        if fields["nonce"] < expected:
            raise TxRejected(f"nonce too low: next nonce {expected}, tx nonce {fields['nonce']}")
        if fields["nonce"] > expected:
            raise TxRejected(
                f"nonce too high: next nonce {expected}, tx nonce {fields['nonce']} (paper: no gaps)"
            )
        if fields["gas"] < INTRINSIC_GAS:
            raise TxRejected(f"intrinsic gas too low: have {fields['gas']}, want {INTRINSIC_GAS}")
        gas_price = self._gas_price(fields, tx_type)
        to = _hex(fields.get("to"))
        if not redemption.accepts(to) or fields.get("value"):
            raise TxRejected(
                f"paper chain: only the modelled contract calls are accepted (to {to}); "
                "see docs/paper-exchange.md"
            )
        tx = PaperTx(
            hash=tx_hash,
            sender=sender,
            to=to,
            data=_hex(fields.get("data")),
            nonce=fields["nonce"],
            gas=fields["gas"],
            gas_price=gas_price,
            tx_type=tx_type,
            block=self.block() + 1,
            fields=fields,
        )
        self._txs[tx_hash] = tx
        self._pending.append(tx)
        return tx_hash

    @staticmethod
    def _gas_price(fields: dict, tx_type: int) -> int:
        if tx_type == 2:
            max_fee, tip = fields["maxFeePerGas"], fields["maxPriorityFeePerGas"]
            if max_fee < BASE_FEE:
                raise TxRejected(
                    f"max fee per gas less than block base fee: maxFeePerGas: {max_fee} baseFee: {BASE_FEE}"
                )
            return min(max_fee, BASE_FEE + tip)
        if fields["gasPrice"] < BASE_FEE:
            raise TxRejected(f"transaction underpriced: gas price {fields['gasPrice']} below {BASE_FEE}")
        return fields["gasPrice"]

    def estimate(self, sender: str, to: str, data: str) -> int:
        """Gas the call would use now; raises Reverted."""
        return redemption.execute(self._exchange, sender, to.lower(), data).gas + INTRINSIC_GAS

    def mine(self) -> None:
        """Execute, in order, every pending transaction whose block has been reached."""
        current = self.block()
        while self._pending and self._pending[0].block <= current:
            self._execute(self._pending.pop(0))

    def _execute(self, tx: PaperTx) -> None:
        status, logs, gas_used = 0, [], tx.gas
        try:
            outcome = redemption.execute(self._exchange, tx.sender, tx.to, tx.data)
            if outcome.gas + INTRINSIC_GAS <= tx.gas:
                outcome.commit()
                status, logs, gas_used = 1, outcome.logs, outcome.gas + INTRINSIC_GAS
        except Reverted:
            gas_used = min(tx.gas, INTRINSIC_GAS + 30_000)
        self._mined_nonce[tx.sender] = tx.nonce + 1
        block_hash = word(tx.block)
        tx.receipt = {
            "transactionHash": tx.hash,
            "transactionIndex": "0x0",
            "blockHash": block_hash,
            "blockNumber": hex(tx.block),
            "from": tx.sender,
            "to": tx.to,
            "cumulativeGasUsed": hex(gas_used),
            "gasUsed": hex(gas_used),
            "effectiveGasPrice": hex(tx.gas_price),
            "contractAddress": None,
            "logsBloom": "0x" + "00" * 256,
            "status": hex(status),
            "type": hex(tx.tx_type),
            "logs": [
                {
                    "address": log.address,
                    "topics": log.topics,
                    "data": log.data,
                    "blockNumber": hex(tx.block),
                    "transactionHash": tx.hash,
                    "transactionIndex": "0x0",
                    "blockHash": block_hash,
                    "logIndex": hex(index),
                    "removed": False,
                }
                for index, log in enumerate(logs)
            ],
        }

    def receipt(self, tx_hash: str) -> dict | None:
        self.mine()
        tx = self._txs.get(str(tx_hash).lower())
        return tx.receipt if tx is not None else None

    def transaction(self, tx_hash: str) -> dict | None:
        self.mine()
        tx = self._txs.get(str(tx_hash).lower())
        if tx is None:
            return None
        mined = tx.receipt is not None
        return {
            "hash": tx.hash,
            "from": tx.sender,
            "to": tx.to,
            "input": tx.data,
            "nonce": hex(tx.nonce),
            "gas": hex(tx.gas),
            "gasPrice": hex(tx.gas_price),
            "value": "0x0",
            "type": hex(tx.tx_type),
            "chainId": hex(config.CHAIN_ID),
            "blockNumber": hex(tx.block) if mined else None,
            "blockHash": word(tx.block) if mined else None,
            "transactionIndex": "0x0" if mined else None,
            "v": hex(tx.fields.get("v", 0)),
            "r": hex(tx.fields.get("r", 0)),
            "s": hex(tx.fields.get("s", 0)),
        }
