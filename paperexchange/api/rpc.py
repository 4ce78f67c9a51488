"""A minimal Polygon JSON-RPC endpoint (POST /rpc, single or batch) over the exchange's ledger.

Enough for web3.py code written for production to read the paper chain unchanged: chain id 137, a
block number that advances with the venue clock (~2 s blocks), code at the production contract
addresses, and `eth_call` of pUSD balanceOf / allowance / decimals and CTF balanceOf / isApprovedForAll
(ERC-1155 ids are the CLOB token ids), the CTF's payoutDenominator / payoutNumerators of a condition.
Balances are wallet totals, as on chain (resting orders reserve funds only in the CLOB's own accounting).

Signed transactions (eth_sendRawTransaction, eth_getTransactionReceipt, eth_estimateGas, nonces and fees as
web3.py's build_transaction asks for them) are checked and mined by paperexchange.core.chain_tx; the calls they
can make (redeeming resolved positions, CTF approvals) are paperexchange.core.redemption.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from eth_abi import encode as abi_encode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange.api.http import JSON
from paperexchange.core import config, redemption
from paperexchange.core.chain_tx import BASE_FEE, TxRejected, block_at
from paperexchange.core.exchange import Exchange
from paperexchange.core.ledger import COLLATERAL, MAX_ALLOWANCE, Ledger
from paperexchange.core.redemption import Reverted
from paperexchange.venue import Venue

CHAIN_ID = hex(config.CHAIN_ID)
# Any non-empty code makes `eth_getCode` say "a contract lives here" (what a deploy check looks at).
CONTRACT_CODE = "0x6080604052348015600f57600080fd5b50"
CONTRACTS = {
    address.lower()
    for address in (
        config.COLLATERAL_TOKEN,
        config.CONDITIONAL_TOKENS,
        config.STANDARD_EXCHANGE,
        config.NEG_RISK_EXCHANGE,
        config.NEG_RISK_ADAPTER,
        config.CTF_COLLATERAL_ADAPTER,
        config.NEG_RISK_CTF_COLLATERAL_ADAPTER,
    )
}
PUSD, CTF = config.COLLATERAL_TOKEN.lower(), config.CONDITIONAL_TOKENS.lower()


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def reverted(error: Reverted) -> RpcError:
    """A revert as geth reports it: code 3, the reason in the message and Error(string) in `data`."""
    if not error.reason:
        return RpcError(3, "execution reverted", "0x")
    data = "0x08c379a0" + abi_encode(["string"], [error.reason]).hex()
    return RpcError(3, f"execution reverted: {error.reason}", data)


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _args(data: str, count: int) -> list[int]:
    body = data[10:]
    if len(body) < 64 * count:
        raise RpcError(3, "execution reverted")
    return [int(body[i * 64 : (i + 1) * 64], 16) for i in range(count)]


def _address(word: int) -> str:
    return "0x" + word.to_bytes(32, "big")[12:].hex()


# (contract, 4-byte selector) -> (argument count, reader(ledger, args) -> uint)
CALLS: dict[tuple[str, str], tuple[int, Callable[[Ledger, list[int]], int]]] = {
    (PUSD, "0x70a08231"): (1, lambda ledger, a: ledger.balance(_address(a[0]), COLLATERAL)),  # balanceOf
    (PUSD, "0xdd62ed3e"): (
        2,
        lambda ledger, a: ledger.allowance(_address(a[0]), _address(a[1])),
    ),  # allowance
    (PUSD, "0x313ce567"): (0, lambda ledger, a: 6),  # decimals
    (CTF, "0x00fdd58e"): (
        2,
        lambda ledger, a: ledger.balance(_address(a[0]), str(a[1])),
    ),  # balanceOf(addr,id)
    (CTF, "0xe985e9c5"): (  # isApprovedForAll
        2,
        lambda ledger, a: int(ledger.approved_for_all(_address(a[0]), _address(a[1]))),
    ),
}


def _call_of(params: list) -> tuple[str, str, str]:
    call = params[0] if params and isinstance(params[0], dict) else {}
    to, data = str(call.get("to") or "").lower(), str(call.get("data") or call.get("input") or "").lower()
    return str(call.get("from") or "0x" + "00" * 20).lower(), to, data


def eth_call(exchange: Exchange, params: list) -> str:
    """A view, or a dry run of a transaction's call (returns no data, or the revert)."""
    sender, to, data = _call_of(params)
    entry = CALLS.get((to, data[:10]))
    try:
        if entry is not None:
            count, reader = entry
            return _word(min(reader(exchange.ledger, _args(data, count)), MAX_ALLOWANCE))
        answer = redemption.view(exchange, to, data)
        if answer is not None:
            return answer
        redemption.execute(exchange, sender, to, data)
    except Reverted as error:
        raise reverted(error) from None
    return "0x"


def eth_estimate_gas(venue: Venue, params: list) -> str:
    sender, to, data = _call_of(params)
    try:
        return hex(venue.chain.estimate(sender, to, data))
    except Reverted as error:
        raise reverted(error) from None


def send_raw_transaction(venue: Venue, params: list) -> str:
    try:
        return venue.chain.send_raw(str(params[0]))
    except TxRejected as error:
        raise RpcError(-32000, str(error)) from None


def _nonce(venue: Venue, params: list) -> str:
    return hex(venue.chain.nonce(str(params[0]), pending=len(params) > 1 and params[1] == "pending"))


def _block(venue: Venue) -> int:
    return block_at(venue.clock.now())


def _methods(venue: Venue) -> dict[str, Callable[[list], object]]:
    venue.chain.mine()  # a read after a block boundary sees that block's transactions
    return {
        "eth_chainId": lambda p: CHAIN_ID,
        "net_version": lambda p: str(config.CHAIN_ID),
        "web3_clientVersion": lambda p: "polydesk-paper-exchange/1",
        "eth_blockNumber": lambda p: hex(_block(venue)),
        "eth_getCode": lambda p: CONTRACT_CODE if p and str(p[0]).lower() in CONTRACTS else "0x",
        "eth_call": lambda p: eth_call(venue.exchange, p),
        "eth_getBalance": lambda p: hex(10**18),  # every wallet holds 1 POL for gas
        "eth_gasPrice": lambda p: hex(BASE_FEE),
        "eth_maxPriorityFeePerGas": lambda p: hex(BASE_FEE),
        "eth_getTransactionCount": lambda p: _nonce(venue, p),
        "eth_estimateGas": lambda p: eth_estimate_gas(venue, p),
        "eth_sendRawTransaction": lambda p: send_raw_transaction(venue, p),
        "eth_getTransactionReceipt": lambda p: venue.chain.receipt(str(p[0])),
        "eth_getTransactionByHash": lambda p: venue.chain.transaction(str(p[0])),
        "eth_syncing": lambda p: False,
        "eth_getBlockByNumber": lambda p: _block_object(venue),
    }


def _block_object(venue: Venue) -> dict:
    number = _block(venue)
    return {
        "number": hex(number),
        "hash": _word(number),
        "parentHash": _word(number - 1),
        "timestamp": hex(int(venue.clock.now())),
        "transactions": [],
        "gasLimit": hex(30_000_000),
        "gasUsed": "0x0",
        "baseFeePerGas": hex(BASE_FEE),
        "miner": "0x" + "00" * 20,
        "extraData": "0x",
        "logsBloom": "0x" + "00" * 256,
        "difficulty": "0x0",
        "nonce": "0x" + "00" * 8,
    }


def handle(venue: Venue, request: object) -> dict:
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    request_id, method = request.get("id"), str(request["method"])
    params = request.get("params") or []
    function = _methods(venue).get(method)
    if function is None:
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": -32601, "message": f"the method {method} does not exist/is not available"},
        }
    try:
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "result": function(params if isinstance(params, list) else []),
        }
    except RpcError as exc:
        error = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            error["data"] = exc.data
        return {"jsonrpc": "2.0", "id": request_id, "error": error}
    except (ValueError, TypeError, IndexError):
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": "invalid params"}}


async def endpoint(request: Request) -> Response:
    venue: Venue = request.app.state.venue
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return JSON({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
    if isinstance(body, list):
        return JSON([handle(venue, item) for item in body])
    return JSON(handle(venue, body))


ROUTES = [Route("/rpc", endpoint, methods=["POST"]), Route("/rpc/", endpoint, methods=["POST"])]
