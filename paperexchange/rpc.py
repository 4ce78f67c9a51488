"""A minimal Polygon JSON-RPC endpoint (POST /rpc, single or batch) over the exchange's ledger.

Enough for web3.py code written for production to read the paper chain unchanged: chain id 137, a
block number that advances with the venue clock (~2 s blocks), code at the production contract
addresses, and `eth_call` of pUSD balanceOf / allowance / decimals and CTF balanceOf / isApprovedForAll
(ERC-1155 ids are the CLOB token ids). Balances are wallet totals, as on chain (resting orders reserve
funds only in the CLOB's own accounting).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paperexchange import config
from paperexchange.http import JSON
from paperexchange.ledger import COLLATERAL, MAX_ALLOWANCE, Ledger
from paperexchange.venue import Venue

CHAIN_ID = hex(config.CHAIN_ID)
BLOCK_SECS = 2.0
GENESIS = 1_590_000_000  # around Polygon PoS mainnet launch: block numbers land in a realistic range
# Any non-empty code makes `eth_getCode` say "a contract lives here" (what a deploy check looks at).
CONTRACT_CODE = "0x6080604052348015600f57600080fd5b50"
CONTRACTS = {address.lower() for address in (
    config.COLLATERAL_TOKEN, config.CONDITIONAL_TOKENS, config.STANDARD_EXCHANGE, config.NEG_RISK_EXCHANGE,
    config.NEG_RISK_ADAPTER,
)}
PUSD, CTF = config.COLLATERAL_TOKEN.lower(), config.CONDITIONAL_TOKENS.lower()


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _args(data: str, count: int) -> list[int]:
    body = data[10:]
    if len(body) < 64 * count:
        raise RpcError(3, "execution reverted")
    return [int(body[i * 64:(i + 1) * 64], 16) for i in range(count)]


def _address(word: int) -> str:
    return "0x" + word.to_bytes(32, "big")[12:].hex()


# (contract, 4-byte selector) -> (argument count, reader(ledger, args) -> uint)
CALLS: dict[tuple[str, str], tuple[int, Callable[[Ledger, list[int]], int]]] = {
    (PUSD, "0x70a08231"): (1, lambda ledger, a: ledger.balance(_address(a[0]), COLLATERAL)),  # balanceOf
    (PUSD, "0xdd62ed3e"): (2, lambda ledger, a: ledger.allowance(_address(a[0]), _address(a[1]))),  # allowance
    (PUSD, "0x313ce567"): (0, lambda ledger, a: 6),  # decimals
    (CTF, "0x00fdd58e"): (2, lambda ledger, a: ledger.balance(_address(a[0]), str(a[1]))),  # balanceOf(addr,id)
    (CTF, "0xe985e9c5"): (  # isApprovedForAll
        2, lambda ledger, a: int(ledger.approved_for_all(_address(a[0]), _address(a[1])))),
}


def eth_call(ledger: Ledger, params: list) -> str:
    call = params[0] if params and isinstance(params[0], dict) else {}
    to, data = str(call.get("to") or "").lower(), str(call.get("data") or call.get("input") or "")
    entry = CALLS.get((to, data[:10].lower()))
    if entry is None:
        raise RpcError(3, "execution reverted")
    count, reader = entry
    return _word(min(reader(ledger, _args(data, count)), MAX_ALLOWANCE))


def _block(venue: Venue) -> int:
    return int((venue.clock.now() - GENESIS) / BLOCK_SECS)


def _methods(venue: Venue) -> dict[str, Callable[[list], object]]:
    ledger = venue.exchange.ledger
    return {
        "eth_chainId": lambda p: CHAIN_ID,
        "net_version": lambda p: str(config.CHAIN_ID),
        "web3_clientVersion": lambda p: "polydesk-paper-exchange/1",
        "eth_blockNumber": lambda p: hex(_block(venue)),
        "eth_getCode": lambda p: CONTRACT_CODE if p and str(p[0]).lower() in CONTRACTS else "0x",
        "eth_call": lambda p: eth_call(ledger, p),
        "eth_getBalance": lambda p: hex(10**18),  # every wallet holds 1 POL for gas
        "eth_gasPrice": lambda p: hex(30 * 10**9),
        "eth_syncing": lambda p: False,
        "eth_getBlockByNumber": lambda p: _block_object(venue),
    }


def _block_object(venue: Venue) -> dict:
    number = _block(venue)
    return {"number": hex(number), "hash": _word(number), "parentHash": _word(number - 1),
            "timestamp": hex(int(venue.clock.now())), "transactions": [], "gasLimit": hex(30_000_000),
            "gasUsed": "0x0", "baseFeePerGas": hex(30 * 10**9), "miner": "0x" + "00" * 20,
            "extraData": "0x", "logsBloom": "0x" + "00" * 256, "difficulty": "0x0", "nonce": "0x" + "00" * 8}


def handle(venue: Venue, request: object) -> dict:
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    request_id, method = request.get("id"), str(request["method"])
    params = request.get("params") or []
    function = _methods(venue).get(method)
    if function is None:
        return {"jsonrpc": "2.0", "id": request_id,
                "error": {"code": -32601, "message": f"the method {method} does not exist/is not available"}}
    try:
        return {"jsonrpc": "2.0", "id": request_id, "result": function(params if isinstance(params, list) else [])}
    except RpcError as exc:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": exc.code, "message": exc.message}}
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
