"""Polygon JSON-RPC at /rpc read with web3.py and minimal ABIs at the production addresses: a wallet's
CLOB trade changes its pUSD and CTF balances, its allowance is spent as transferFrom would spend it."""

from __future__ import annotations

import httpx
import pytest
from eth_account import Account
from polymarket import SecureClient
from web3 import Web3
from web3.exceptions import ContractLogicError

from paperexchange.core import config
from shared.polymarket.sdk_env import paper_environment

ERC20_ABI = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "allowance", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
]
ERC1155_ABI = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}, {"name": "id", "type": "uint256"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "isApprovedForAll", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}, {"name": "operator", "type": "address"}],
     "outputs": [{"name": "", "type": "bool"}]},
]
EXCHANGE = Web3.to_checksum_address(config.STANDARD_EXCHANGE)


@pytest.fixture(scope="module")
def w3(server) -> Web3:
    return Web3(Web3.HTTPProvider(server.url + "/rpc"))


@pytest.fixture(scope="module")
def contracts(w3):
    pusd = w3.eth.contract(address=Web3.to_checksum_address(config.COLLATERAL_TOKEN), abi=ERC20_ABI)
    ctf = w3.eth.contract(address=Web3.to_checksum_address(config.CONDITIONAL_TOKENS), abi=ERC1155_ABI)
    return pusd, ctf


def test_chain_basics(w3):
    assert w3.is_connected() and w3.eth.chain_id == 137
    first = w3.eth.block_number
    assert first > 30_000_000
    assert w3.eth.get_code(Web3.to_checksum_address(config.COLLATERAL_TOKEN)) != b""
    assert w3.eth.get_code(Account.create().address) == b""


def test_a_clob_trade_moves_on_chain_balances(server, admin, w3, contracts):
    pusd, ctf = contracts
    market = admin.create_market()
    yes = int(market["token_ids"][0])
    account = Account.create()
    admin.fund(account.address, "100")
    assert pusd.functions.balanceOf(account.address).call() == 100_000_000
    assert pusd.functions.decimals().call() == 6
    assert ctf.functions.isApprovedForAll(account.address, EXCHANGE).call() is True
    admin.house(market["token_ids"][0], "SELL", "0.60", "50")
    client = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                 environment=paper_environment(server.url))
    try:
        placed = client.place_limit_order(asset_id=str(yes), price="0.60", size="20", side="BUY")
        assert placed.status == "matched"
    finally:
        client.close()
    assert ctf.functions.balanceOf(account.address, yes).call() == 0  # tokens reach the chain when MINED
    admin.wait_mined(placed.trade_ids)
    assert pusd.functions.balanceOf(account.address).call() == 88_000_000
    assert ctf.functions.balanceOf(account.address, yes).call() == 20_000_000
    clob = httpx.get(server.url + "/_paper/balances/" + account.address).json()["balances"]
    assert clob == {"COLLATERAL": "88", str(yes): "20"}


def test_limited_allowance_is_spent_by_fills(server, admin, contracts):
    pusd, _ = contracts
    market = admin.create_market()
    account = Account.create()
    admin.fund(account.address, "100", approve=False)
    assert pusd.functions.allowance(account.address, EXCHANGE).call() == 0
    server.call(server.venue.exchange.ledger.set_allowance, account.address, config.STANDARD_EXCHANGE, 30_000_000)
    assert pusd.functions.allowance(account.address, EXCHANGE).call() == 30_000_000
    server.call(server.venue.exchange.ledger.set_approval_for_all, account.address, config.STANDARD_EXCHANGE, True)
    admin.house(market["token_ids"][0], "SELL", "0.50", "50")
    client = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                 environment=paper_environment(server.url))
    try:
        client.place_limit_order(asset_id=market["token_ids"][0], price="0.50", size="20", side="BUY")
    finally:
        client.close()
    assert pusd.functions.allowance(account.address, EXCHANGE).call() == 20_000_000


def test_batch_requests_and_errors(server, w3):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
             {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
             {"jsonrpc": "2.0", "id": 3, "method": "eth_call", "params": [{"to": config.COLLATERAL_TOKEN,
                                                                          "data": "0xdeadbeef"}, "latest"]}]
    answers = httpx.post(server.url + "/rpc", json=batch).json()
    assert answers[0] == {"jsonrpc": "2.0", "id": 1, "result": "0x89"}
    assert answers[1]["error"]["code"] == -32601 and "error" in answers[2]
    unknown = w3.eth.contract(address=Web3.to_checksum_address(config.COLLATERAL_TOKEN), abi=[
        {"name": "totalSupply", "type": "function", "stateMutability": "view", "inputs": [],
         "outputs": [{"name": "", "type": "uint256"}]}])
    with pytest.raises(ContractLogicError):
        unknown.functions.totalSupply().call()
