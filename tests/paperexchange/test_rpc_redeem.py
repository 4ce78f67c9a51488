"""Redeeming resolved positions through the paper chain's JSON-RPC, with transactions built and signed by
web3.py / eth_account as a wallet would: reverts before resolution, 1 pUSD per winning share and 0 per
losing one, the neg-risk adapter for neg-risk markets, senders checked by signature, nothing paid twice."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from paperexchange.core import config
from paperexchange.core.clock import ManualClock
from paperexchange.server import PaperExchangeServer
from shared.polymarket import redemption
from tests.paperexchange.conftest import SETTLEMENT_DELAY_SECS
from tests.paperexchange.helpers import Admin

REDEEM_ABI = [{"name": "redeemPositions", "type": "function", "stateMutability": "nonpayable", "outputs": [],
               "inputs": [{"name": "c", "type": "address"}, {"name": "p", "type": "bytes32"},
                          {"name": "cid", "type": "bytes32"}, {"name": "sets", "type": "uint256[]"}]}]
BALANCE_ABI = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}, {"name": "id", "type": "uint256"}],
     "outputs": [{"name": "", "type": "uint256"}]},
]
SHARE = 1_000_000


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock):
    """A venue on a manual clock: a block is mined when the test moves the clock past it."""
    with PaperExchangeServer(admin=True, settlement_delay_secs=SETTLEMENT_DELAY_SECS, clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def w3(server) -> Web3:
    return Web3(Web3.HTTPProvider(server.url + "/rpc"))


def _addr(address: str) -> str:
    return Web3.to_checksum_address(address)


def pusd(w3: Web3, owner: str) -> int:
    contract = w3.eth.contract(address=_addr(config.COLLATERAL_TOKEN), abi=BALANCE_ABI[:1])
    return contract.functions.balanceOf(_addr(owner)).call()


def ctf(w3: Web3, owner: str, token_id: str) -> int:
    contract = w3.eth.contract(address=_addr(config.CONDITIONAL_TOKENS), abi=BALANCE_ABI[1:])
    return contract.functions.balanceOf(_addr(owner), int(token_id)).call()


def redeem_call(w3: Web3, condition_id: str, neg_risk: bool = False):
    adapter = config.NEG_RISK_CTF_COLLATERAL_ADAPTER if neg_risk else config.CTF_COLLATERAL_ADAPTER
    contract = w3.eth.contract(address=_addr(adapter), abi=REDEEM_ABI)
    return contract.functions.redeemPositions(_addr(config.COLLATERAL_TOKEN), b"\x00" * 32,
                                              bytes.fromhex(condition_id[2:]), [1, 2])


def signed(w3: Web3, account, call, *, gas: int = 300_000, **overrides):
    tx = call.build_transaction({"from": account.address, "gas": gas, "chainId": 137,
                                 "nonce": w3.eth.get_transaction_count(account.address, "pending"), **overrides})
    return account.sign_transaction(tx)


def mine(w3: Web3, clock: ManualClock, tx_hash) -> dict:
    clock.advance(2.0)
    return w3.eth.get_transaction_receipt(tx_hash)


def holder(admin: Admin, market: dict, yes: str = "0", no: str = "0", collateral: str = "100"):
    account = Account.create()
    admin.fund(account.address, collateral, tokens={market["token_ids"][0]: yes, market["token_ids"][1]: no})
    return account


def resolve(admin: Admin, market: dict, winner_index: int) -> None:
    admin.http.post(f"/markets/{market['condition_id']}/resolve",
                    json={"winning_asset_id": market["token_ids"][winner_index]}).raise_for_status()


def test_before_resolution_redeeming_reverts_and_changes_nothing(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, yes="20")
    with pytest.raises(ContractLogicError, match="result for condition not received yet"):
        redeem_call(w3, market["condition_id"]).estimate_gas({"from": account.address})
    tx = signed(w3, account, redeem_call(w3, market["condition_id"]))  # sent anyway: mined, reverted
    tx_hash = w3.eth.send_raw_transaction(tx.raw_transaction)
    receipt = mine(w3, clock, tx_hash)
    assert receipt["status"] == 0 and receipt["logs"] == []
    assert w3.eth.get_transaction_count(account.address) == 1  # the nonce is spent, as on chain
    assert ctf(w3, account.address, market["token_ids"][0]) == 20 * SHARE
    assert pusd(w3, account.address) == 100 * SHARE


def test_winning_shares_pay_one_pusd_and_losing_ones_nothing(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, yes="20", no="5.5")
    resolve(admin, market, 0)
    estimate = redeem_call(w3, market["condition_id"]).estimate_gas({"from": account.address})
    assert 21_000 < estimate < 300_000
    tx_hash = w3.eth.send_raw_transaction(signed(w3, account, redeem_call(w3, market["condition_id"])).raw_transaction)
    with pytest.raises(TransactionNotFound):  # not mined before its block is reached
        w3.eth.get_transaction_receipt(tx_hash)
    receipt = mine(w3, clock, tx_hash)
    assert receipt["status"] == 1 and receipt["from"].lower() == account.address.lower()
    assert pusd(w3, account.address) == 120 * SHARE
    assert ctf(w3, account.address, market["token_ids"][0]) == 0
    assert ctf(w3, account.address, market["token_ids"][1]) == 0
    payouts = {market["token_ids"][0]: redemption.Decimal(1), market["token_ids"][1]: redemption.Decimal(0)}
    tokens = {t.token_id: t for t in redemption.redeemed_tokens(receipt["logs"], account.address, payouts)}
    assert tokens[market["token_ids"][0]].shares == 20 and tokens[market["token_ids"][0]].payout_usd == 20
    assert tokens[market["token_ids"][1]].shares == redemption.Decimal("5.5")
    assert tokens[market["token_ids"][1]].payout_usd == 0


def test_only_losing_shares_are_burnt_for_nothing(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, no="10")
    resolve(admin, market, 0)
    receipt = mine(w3, clock, w3.eth.send_raw_transaction(
        signed(w3, account, redeem_call(w3, market["condition_id"])).raw_transaction))
    assert receipt["status"] == 1
    assert ctf(w3, account.address, market["token_ids"][1]) == 0
    assert pusd(w3, account.address) == 100 * SHARE
    assert [log["address"].lower() for log in receipt["logs"]] == [config.CONDITIONAL_TOKENS.lower()]  # no mint


def test_a_second_redemption_pays_nothing_more(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, no="7")
    resolve(admin, market, 1)
    receipt = mine(w3, clock, w3.eth.send_raw_transaction(
        signed(w3, account, redeem_call(w3, market["condition_id"])).raw_transaction))
    assert receipt["status"] == 1 and pusd(w3, account.address) == 107 * SHARE
    with pytest.raises(ContractLogicError, match="nothing to redeem"):
        redeem_call(w3, market["condition_id"]).estimate_gas({"from": account.address})
    again = mine(w3, clock, w3.eth.send_raw_transaction(
        signed(w3, account, redeem_call(w3, market["condition_id"])).raw_transaction))
    assert again["status"] == 0 and pusd(w3, account.address) == 107 * SHARE


def test_neg_risk_markets_redeem_through_the_neg_risk_adapter(server, w3, clock):
    admin = Admin(server.url)
    response = admin.http.post("/events", json={"title": f"Who wins {clock.now()}?", "outcomes": ["A", "B", "C"]})
    response.raise_for_status()
    winner, loser = response.json()[0], response.json()[1]
    account = Account.create()
    admin.fund(account.address, "0", tokens={winner["token_ids"][0]: "12", loser["token_ids"][1]: "3"})
    resolve(admin, winner, 0)
    resolve(admin, loser, 1)
    with pytest.raises(ContractLogicError, match="neg-risk condition"):
        redeem_call(w3, winner["condition_id"]).estimate_gas({"from": account.address})
    for market in (winner, loser):
        receipt = mine(w3, clock, w3.eth.send_raw_transaction(
            signed(w3, account, redeem_call(w3, market["condition_id"], neg_risk=True)).raw_transaction))
        assert receipt["status"] == 1
    assert pusd(w3, account.address) == 15 * SHARE
    assert ctf(w3, account.address, winner["token_ids"][0]) == ctf(w3, account.address, loser["token_ids"][1]) == 0
    standard = admin.create_market()
    other = holder(admin, standard, yes="1")
    resolve(admin, standard, 0)
    with pytest.raises(ContractLogicError, match="standard condition"):
        redeem_call(w3, standard["condition_id"], neg_risk=True).estimate_gas({"from": other.address})


def test_the_sender_is_whoever_signed_it(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    owner = holder(admin, market, yes="9")
    resolve(admin, market, 0)
    stranger = Account.create()
    admin.fund(stranger.address, "0")  # approvals, no tokens
    receipt = mine(w3, clock, w3.eth.send_raw_transaction(
        signed(w3, stranger, redeem_call(w3, market["condition_id"])).raw_transaction))
    assert receipt["status"] == 0 and receipt["from"].lower() == stranger.address.lower()
    assert ctf(w3, owner.address, market["token_ids"][0]) == 9 * SHARE and pusd(w3, stranger.address) == 0
    raw = bytearray(signed(w3, owner, redeem_call(w3, market["condition_id"])).raw_transaction)
    raw[-40] ^= 0xFF  # inside s: the signature no longer recovers the owner
    try:  # either no sender recovers at all, or some other address does (which holds nothing)
        tx_hash = w3.eth.send_raw_transaction(bytes(raw))
    except Web3RPCError as error:
        assert "invalid sender" in str(error)
    else:
        receipt = mine(w3, clock, tx_hash)
        assert receipt["status"] == 0 and receipt["from"].lower() != owner.address.lower()
    assert ctf(w3, owner.address, market["token_ids"][0]) == 9 * SHARE and pusd(w3, owner.address) == 100 * SHARE


def test_the_node_refuses_what_a_polygon_node_refuses(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, yes="2")
    resolve(admin, market, 0)
    call = redeem_call(w3, market["condition_id"])
    for overrides, message in (({"chainId": 80002}, "invalid chain id"), ({"nonce": 5}, "nonce too high"),
                               ({"gas": 20_000}, "intrinsic gas too low"),
                               ({"maxFeePerGas": 10**9, "maxPriorityFeePerGas": 10**9}, "less than block base fee")):
        with pytest.raises(Web3RPCError, match=message):
            w3.eth.send_raw_transaction(signed(w3, account, call, **overrides).raw_transaction)
    too_little = mine(w3, clock, w3.eth.send_raw_transaction(signed(w3, account, call, gas=60_000).raw_transaction))
    assert too_little["status"] == 0 and ctf(w3, account.address, market["token_ids"][0]) == 2 * SHARE
    good = signed(w3, account, call)
    w3.eth.send_raw_transaction(good.raw_transaction)
    with pytest.raises(Web3RPCError, match="already known"):
        w3.eth.send_raw_transaction(good.raw_transaction)
    assert mine(w3, clock, good.hash)["status"] == 1
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(signed(w3, account, call, nonce=0).raw_transaction)


def test_the_adapter_needs_the_wallets_ctf_approval(server, w3, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = Account.create()
    admin.fund(account.address, "0", tokens={market["token_ids"][0]: "4"}, approve=False)
    resolve(admin, market, 0)
    with pytest.raises(ContractLogicError, match="need operator approval"):
        redeem_call(w3, market["condition_id"]).estimate_gas({"from": account.address})
    approve = w3.eth.contract(address=_addr(config.CONDITIONAL_TOKENS), abi=[
        {"name": "setApprovalForAll", "type": "function", "stateMutability": "nonpayable", "outputs": [],
         "inputs": [{"name": "o", "type": "address"}, {"name": "a", "type": "bool"}]}])
    approval = approve.functions.setApprovalForAll(_addr(config.CTF_COLLATERAL_ADAPTER), True)
    assert mine(w3, clock, w3.eth.send_raw_transaction(signed(w3, account, approval).raw_transaction))["status"] == 1
    receipt = mine(w3, clock, w3.eth.send_raw_transaction(
        signed(w3, account, redeem_call(w3, market["condition_id"])).raw_transaction))
    assert receipt["status"] == 1 and pusd(w3, account.address) == 4 * SHARE


async def test_chain_redeemer_reads_payouts_signs_and_reads_the_receipt(server, clock):
    admin = Admin(server.url)
    market = admin.create_market()
    account = holder(admin, market, yes="3", no="1")
    chain = redemption.ChainRedeemer(server.url + "/rpc", account.key.hex())
    try:
        assert await chain.payouts(market["condition_id"]) is None
        resolve(admin, market, 1)
        payouts = await chain.payouts(market["condition_id"])
        assert payouts.fractions == (0, 1)
        assert await chain.approved(neg_risk=False) and await chain.approved(neg_risk=True)
        assert await chain.balances(market["token_ids"]) == {market["token_ids"][0]: 3 * SHARE,
                                                            market["token_ids"][1]: SHARE}
        tx = await chain.sign(market["condition_id"], neg_risk=False)
        await chain.send(tx)
        await chain.send(tx)  # a resend (after a restart) is not an error
        clock.advance(2.0)
        receipt = chain.read_receipt(await chain.receipt(tx.tx_hash), {
            market["token_ids"][0]: payouts.of(0), market["token_ids"][1]: payouts.of(1)})
        assert receipt.succeeded and receipt.tx_hash == tx.tx_hash
        paid = {t.token_id: (t.shares, t.payout_usd) for t in receipt.tokens}
        assert paid == {market["token_ids"][0]: (3, 0), market["token_ids"][1]: (1, 1)}
        with pytest.raises(redemption.VenueRejected, match="nothing to redeem"):
            await chain.sign(market["condition_id"], neg_risk=False)
    finally:
        await chain.close()
