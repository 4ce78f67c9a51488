"""Signature types 0-3 with their funder wallets: configured from the environment, registered on the paper
exchange (which checks maker, signer and wallet as the venue does), and trading from the funder's money."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from eth_account import Account
from polymarket._internal.wallet import (
    derive_beacon_deposit_wallet_address,
    derive_proxy_wallet_address,
    derive_safe_wallet_address,
)
from polymarket.environments import PRODUCTION

from paperexchange.api import wallets as paper_wallets
from shared.messages import Fill
from shared.streams import APPROVED_ORDERS, FILLS
from tests.executor.conftest import approval, own_orders
from tests.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DERIVATION = PRODUCTION._config.wallet_derivation


def smart_wallet(signer: str, signature_type: int) -> str:
    return {1: derive_proxy_wallet_address, 2: derive_safe_wallet_address,
            3: derive_beacon_deposit_wallet_address}[signature_type](signer, DERIVATION)


def test_the_paper_venue_derives_proxy_and_safe_wallets_as_the_sdk_does():
    for _ in range(3):
        signer = Account.create().address
        assert paper_wallets.proxy_wallet_of(signer) == derive_proxy_wallet_address(signer, DERIVATION)
        assert paper_wallets.safe_wallet_of(signer) == derive_safe_wallet_address(signer, DERIVATION)


def test_registration_refuses_a_wallet_the_factory_would_not_deploy_for_the_owner(admin):
    owner, stranger = Account.create().address, Account.create().address
    for signature_type in (1, 2):
        wrong = admin.http.post("/wallets", json={"wallet": smart_wallet(stranger, signature_type), "owner": owner,
                                                  "signature_type": signature_type})
        assert wrong.status_code == 400 and "is not a wallet of signer" in wrong.json()["error"]
    assert admin.http.post("/wallets", json={"wallet": owner, "owner": owner, "signature_type": 7}).status_code == 400
    proxy = smart_wallet(owner, 1)
    deployed = httpx.get(admin.url + "/relayer/deployed", params={"address": proxy, "type": "PROXY"}).json()
    assert deployed == {"deployed": False}
    admin.http.post("/wallets", json={"wallet": proxy, "owner": owner, "signature_type": 1}).raise_for_status()
    for kind, expected in (("PROXY", True), ("SAFE", False)):
        answer = httpx.get(admin.url + "/relayer/deployed", params={"address": proxy, "type": kind}).json()
        assert answer == {"deployed": expected}


@pytest.mark.parametrize("signature_type", ["1", "2", "3", "POLY_1271"])
async def test_each_signature_type_trades_from_its_funder(bus, executor, admin, market, wallet, signature_type):
    number = {"POLY_1271": 3}.get(signature_type) or int(signature_type)
    funder = smart_wallet(wallet.address, number)
    admin.http.post("/wallets", json={"wallet": funder, "owner": wallet.address, "signature_type": number}
                    ).raise_for_status()
    admin.fund(funder, "200")
    admin.house(market["token_ids"][0], "SELL", "0.60", "50")
    executor.start(POLYDESK_SIGNATURE_TYPE=signature_type, POLYDESK_WALLET_ADDRESS=funder)
    await executor.wait_started()
    started = executor.events("executor_started")[-1]
    assert (started["signature_type"], started["wallet"]) == (number, funder)

    order = approval(market, price="0.60", size="10")
    await bus.publish(APPROVED_ORDERS, order)

    async def filled():
        return [m for _, m in await bus.history(FILLS)
                if isinstance(m, Fill) and m.client_order_id == order.client_order_id]

    assert await eventually(filled, timeout=30)
    posted = own_orders(admin, funder)
    assert len(posted) == 1 and posted[0]["size_matched"] == "10"
    assert own_orders(admin, wallet.address) == [] or number == 3  # the EOA itself never makes the order
    # The funder paid 6 pUSD (and the taker fee); the signer's own (EOA) money is untouched.
    paid = Decimal(200) - Decimal(admin.balances(funder)["balances"]["COLLATERAL"])
    assert Decimal(6) <= paid < Decimal("6.5"), paid
    assert Decimal(admin.balances(wallet.address)["balances"]["COLLATERAL"]) == Decimal(1000)
    assert executor.stop() == 0


def test_a_funder_that_is_not_the_signers_wallet_stops_the_start_with_one_clear_line(executor, admin):
    someone_elses = smart_wallet(Account.create().address, 1)
    executor.start(POLYDESK_SIGNATURE_TYPE="1", POLYDESK_WALLET_ADDRESS=someone_elses)
    assert executor.process.wait(60) != 0
    err = executor.stderr()
    assert "POLYDESK_SIGNATURE_TYPE=1 (POLY_PROXY) needs POLYDESK_WALLET_ADDRESS" in err
    assert "Traceback" not in err


def test_a_proxy_wallet_not_deployed_stops_the_start(executor, wallet):
    executor.start(POLYDESK_SIGNATURE_TYPE="2", POLYDESK_WALLET_ADDRESS=smart_wallet(wallet.address, 2))
    assert executor.process.wait(60) != 0
    err = executor.stderr()
    assert "does not exist" in err and "Traceback" not in err
