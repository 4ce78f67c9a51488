"""The contract calls a wallet can send to the paper chain: redeeming resolved positions, and CTF approvals.

Redemption goes the way CLOB V2 wallets redeem into pUSD (polymarket-client 0.14.0 `redeem_positions`,
ctf-exchange-v2 `CtfCollateralAdapter` / `NegRiskCtfCollateralAdapter`): `redeemPositions(address, bytes32,
bytes32 conditionId, uint256[])` sent to the collateral adapter of the market's kind. The adapter pulls the
sender's whole balance of both outcome tokens (an ERC-1155 transfer, so the sender must have approved the
adapter on the CTF), redeems them on the CTF (through the NegRiskAdapter's `redeemPositions(conditionId,
amounts)` for neg-risk markets), and wraps the USDC.e it gets into pUSD for the sender: 1 pUSD per winning
share, 0 per losing one. Before the condition's payout is reported the CTF reverts.

Stricter than the chain (docs/paper-exchange.md): a redemption that would burn nothing, or a condition sent
to the adapter of the other kind (on chain: a mined no-op paying 0), reverts here so a client bug shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from paperexchange.core import config
from paperexchange.core.exchange import Exchange
from paperexchange.core.ledger import COLLATERAL
from paperexchange.core.markets import Market

CTF = config.CONDITIONAL_TOKENS.lower()
PUSD = config.COLLATERAL_TOKEN.lower()
ADAPTERS = {  # collateral adapter -> does it redeem neg-risk conditions
    config.CTF_COLLATERAL_ADAPTER.lower(): False,
    config.NEG_RISK_CTF_COLLATERAL_ADAPTER.lower(): True,
}
ZERO_ADDRESS = "0x" + "00" * 20


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


REDEEM_POSITIONS = selector("redeemPositions(address,bytes32,bytes32,uint256[])")
SET_APPROVAL_FOR_ALL = selector("setApprovalForAll(address,bool)")
PAYOUT_DENOMINATOR = selector("payoutDenominator(bytes32)")
PAYOUT_NUMERATORS = selector("payoutNumerators(bytes32,uint256)")
TRANSFER_BATCH = topic("TransferBatch(address,address,address,uint256[],uint256[])")
APPROVAL_FOR_ALL = topic("ApprovalForAll(address,address,bool)")
ERC20_TRANSFER = topic("Transfer(address,address,uint256)")

# Gas a call uses (roughly what Polygon shows for these calls); a lower gas limit runs out of gas.
REDEEM_GAS = 180_000
APPROVAL_GAS = 46_000

# The reasons the real contracts revert with.
NOT_RESOLVED = "result for condition not received yet"
NOT_APPROVED = "ERC1155: need operator approval for 3rd party transfers."


class Reverted(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Log:
    address: str
    topics: list[str]
    data: str


@dataclass(frozen=True)
class Outcome:
    """What a call does: its logs and gas, and `commit` to make its state change (not run for a dry run)."""

    logs: list[Log]
    gas: int
    commit: Callable[[], None]


def _word(value: int | str) -> str:
    if isinstance(value, str):
        return "0x" + bytes.fromhex(value.removeprefix("0x")).rjust(32, b"\x00").hex()
    return "0x" + value.to_bytes(32, "big").hex()


def _decode(types: list[str], data: str) -> tuple:
    try:
        return abi_decode(types, bytes.fromhex(data[10:]))
    except Exception:  # noqa: BLE001 - eth_abi raises several types for short or malformed input
        raise Reverted("") from None


def _condition(value: bytes) -> str:
    return "0x" + value.hex()


def _market(exchange: Exchange, condition_id: str) -> Market | None:
    return exchange.markets.by_condition(condition_id)


def payout_numerator(market: Market, index: int) -> int:
    return int(market.winner is not None and market.token_ids[index] == market.winner)


def view(exchange: Exchange, to: str, data: str) -> str | None:
    """eth_call of the CTF's payout views (None: not one of them). An unresolved or unknown condition
    has denominator 0 and numerators 0, as on chain (the numerators array is empty there: index reverts)."""
    if to != CTF:
        return None
    if data[:10] == PAYOUT_DENOMINATOR:
        (condition,) = _decode(["bytes32"], data)
        market = _market(exchange, _condition(condition))
        return _word(1 if market is not None and market.winner is not None else 0)
    if data[:10] == PAYOUT_NUMERATORS:
        condition, index = _decode(["bytes32", "uint256"], data)
        market = _market(exchange, _condition(condition))
        if market is None or market.winner is None or index > 1:
            raise Reverted("")
        return _word(payout_numerator(market, index))
    return None


def accepts(to: str) -> bool:
    """Whether a transaction to `to` is one the paper chain models (the others are refused at send)."""
    return to in ADAPTERS or to == CTF


def execute(exchange: Exchange, sender: str, to: str, data: str) -> Outcome:
    """Run a call from `sender` without changing anything; raises Reverted as the contract would."""
    sender = sender.lower()
    if to in ADAPTERS and data[:10] == REDEEM_POSITIONS:
        return _redeem(exchange, sender, to, data)
    if to == CTF and data[:10] == SET_APPROVAL_FOR_ALL:
        return _set_approval(exchange, sender, data)
    raise Reverted("")  # no such function: the fallback reverts without a reason


def _redeem(exchange: Exchange, sender: str, adapter: str, data: str) -> Outcome:
    _collateral, _parent, condition, _index_sets = _decode(
        ["address", "bytes32", "bytes32", "uint256[]"], data
    )
    ledger = exchange.ledger
    if not ledger.approved_for_all(sender, adapter):
        raise Reverted(NOT_APPROVED)
    market = _market(exchange, _condition(condition))
    if market is None or market.winner is None:
        raise Reverted(NOT_RESOLVED)
    if market.neg_risk != ADAPTERS[adapter]:
        kind = "a neg-risk" if market.neg_risk else "a standard"
        raise Reverted(
            f"paper: {market.condition_id} is {kind} condition; this adapter redeems the other kind"
        )
    amounts = [ledger.balance(sender, token_id) for token_id in market.token_ids]
    if not any(amounts):
        raise Reverted("paper: nothing to redeem (the sender holds neither outcome token)")
    payout = sum(amount * payout_numerator(market, index) for index, amount in enumerate(amounts))

    def commit() -> None:
        for token_id, amount in zip(market.token_ids, amounts):
            ledger.debit(sender, token_id, amount)
        ledger.credit(sender, COLLATERAL, payout)

    ids = [int(token_id) for token_id in market.token_ids]
    logs = [
        Log(
            CTF,
            [TRANSFER_BATCH, _word(adapter), _word(sender), _word(adapter)],
            "0x" + abi_encode(["uint256[]", "uint256[]"], [ids, amounts]).hex(),
        )
    ]
    if payout:  # the adapter's wrap mints pUSD to the sender
        logs.append(Log(PUSD, [ERC20_TRANSFER, _word(ZERO_ADDRESS), _word(sender)], _word(payout)))
    return Outcome(logs=logs, gas=REDEEM_GAS, commit=commit)


def _set_approval(exchange: Exchange, sender: str, data: str) -> Outcome:
    operator, approved = _decode(["address", "bool"], data)
    operator = operator.lower()

    def commit() -> None:
        exchange.ledger.set_approval_for_all(sender, operator, approved)

    logs = [Log(CTF, [APPROVAL_FOR_ALL, _word(sender), _word(operator)], _word(int(approved)))]
    return Outcome(logs=logs, gas=APPROVAL_GAS, commit=commit)
