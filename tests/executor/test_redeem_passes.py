"""The executor's redemption pass in-process against the paper exchange: a recorded redemption whose nonce
went to another transaction is dropped and the market redeemed afresh; a wallet that has not approved the
adapter is reported once, and nothing is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from prometheus_client import REGISTRY
from web3 import Web3

from paperexchange import config
from paperexchange.server import PaperExchangeServer
from services.executor.redeem import Redeemer, RedemptionStore
from shared.logging import EventLog, read_events
from shared.messages import PositionRedeemed
from shared.polymarket.redemption import ChainRedeemer
from tests.paperexchange.helpers import Admin

APPROVAL_ABI = [{"name": "setApprovalForAll", "type": "function", "stateMutability": "nonpayable", "outputs": [],
                 "inputs": [{"name": "o", "type": "address"}, {"name": "a", "type": "bool"}]}]


@pytest.fixture(scope="module")
def server():
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.2) as running:
        yield running


@pytest.fixture
async def setup(server, tmp_path):
    account = Account.create()
    published: list[PositionRedeemed] = []

    async def publish(keyed):
        published.extend(output.message for _, output in keyed)

    chain = ChainRedeemer(server.url + "/rpc", account.key.hex())
    store = RedemptionStore(tmp_path / "executor.sqlite")
    events = EventLog(tmp_path / "logs", "executor")
    redeemer = Redeemer(chain, store, publish, events, clob_url=server.url, data_api_url=server.url + "/data-api",
                        receipt_timeout_secs=20)
    yield account, redeemer, published, tmp_path
    await redeemer.close()
    events.close()


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("polydesk_executor_redemptions_total", {"result": result}) or 0.0


def resolved_market(server, account, *, approve: bool = True) -> dict:
    admin = Admin(server.url)
    market = admin.create_market()
    admin.fund(account.address, "10", tokens={market["token_ids"][0]: "6"}, approve=approve)
    admin.http.post(f"/markets/{market['condition_id']}/resolve",
                    json={"winning_asset_id": market["token_ids"][0]}).raise_for_status()
    return market


async def test_a_redemption_whose_nonce_went_elsewhere_is_dropped_and_redone(server, setup):
    account, redeemer, published, tmp_path = setup
    market = resolved_market(server, account)
    payouts = await redeemer.chain.payouts(market["condition_id"])
    stale = await redeemer.chain.sign(market["condition_id"], neg_risk=False)
    redeemer.store.add_sent(stale, {market["token_ids"][0]: payouts.of(0), market["token_ids"][1]: payouts.of(1)})
    w3 = Web3(Web3.HTTPProvider(server.url + "/rpc"))  # another transaction takes nonce 0 first
    ctf = w3.eth.contract(address=Web3.to_checksum_address(config.CONDITIONAL_TOKENS), abi=APPROVAL_ABI)
    tx = ctf.functions.setApprovalForAll(Web3.to_checksum_address(config.CTF_COLLATERAL_ADAPTER), True) \
        .build_transaction({"from": account.address, "nonce": 0, "gas": 100_000, "chainId": 137})
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction),
                                        timeout=20)

    before = {result: counted(result) for result in ("dropped", "redeemed")}
    outcomes = await redeemer.run_pass()
    assert [(o.condition_id, o.result) for o in outcomes] == [(market["condition_id"], "redeemed")]
    assert {result: counted(result) - before[result] for result in before} == {"dropped": 1, "redeemed": 1}
    assert outcomes[0].tx_hash != stale.tx_hash
    assert [(m.token_id, m.shares, m.payout_usd) for m in published] == [(market["token_ids"][0], 6, 6)]
    assert redeemer.store.in_state("SENT") == [] and [r.tx_hash for r in redeemer.store.in_state("DROPPED")] == [
        stale.tx_hash]
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    assert [e["tx_hash"] for e in events if e["type"] == "redeem_dropped"] == [stale.tx_hash]
    assert Decimal(Admin(server.url).balances(account.address)["balances"]["COLLATERAL"]) == 16


async def test_a_wallet_without_the_adapter_approval_is_told_once_and_nothing_is_sent(server, setup):
    account, redeemer, published, tmp_path = setup
    market = resolved_market(server, account, approve=False)
    for _ in range(2):
        outcomes = await redeemer.run_pass(market["condition_id"])
        assert [o.result for o in outcomes] == ["not_approved"] and "setApprovalForAll" in outcomes[0].detail
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    assert [e["type"] for e in events] == ["redeem_blocked"]
    assert published == [] and redeemer.store.in_state("SENT") == []
    assert Admin(server.url).balances(account.address)["balances"][market["token_ids"][0]] == "6"
