"""Orders and requests the venue must refuse: bad EIP-712 signatures, missing or wrong L2/L1 headers."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from eth_account import Account
from polymarket.environments import PRODUCTION
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.signer import Signer

from paperexchange.core import config
from tests.paperexchange.helpers import Trader

INVALID_SIGNATURE = {"error": "invalid signature"}


def test_contract_constants_match_both_sdks():
    production = PRODUCTION._config
    legacy = get_contract_config(137)
    assert config.STANDARD_EXCHANGE == production.standard_exchange == legacy.exchange_v2
    assert config.NEG_RISK_EXCHANGE == production.neg_risk_exchange == legacy.neg_risk_exchange_v2
    assert config.CHAIN_ID == production.chain_id
    assert config.COLLATERAL_TOKEN == production.collateral_token == legacy.collateral


def test_a_correctly_signed_order_is_accepted(trader, market):
    response = trader.post("/order", trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10))
    assert response.status_code == 200 and response.json()["status"] == "live"


def test_order_signed_with_another_key_is_rejected(trader, market):
    intruder = Signer(Account.create().key.hex(), 137)
    payload = trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10, signer=intruder)
    payload["order"]["maker"] = payload["order"]["signer"] = trader.address  # claims to be the trader
    response = trader.post("/order", payload)
    assert (response.status_code, response.json()) == (400, INVALID_SIGNATURE)


@pytest.mark.parametrize("domain_version", ["1", "3"])
def test_order_signed_for_another_exchange_version_is_rejected(trader, market, domain_version):
    payload = trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10, domain_version=domain_version)
    response = trader.post("/order", payload)
    assert (response.status_code, response.json()) == (400, INVALID_SIGNATURE)


def test_order_signed_for_the_other_exchange_contract_is_rejected(trader, market):
    payload = trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10, neg_risk=True)
    assert trader.post("/order", payload).json() == INVALID_SIGNATURE


def test_neg_risk_market_needs_the_neg_risk_exchange_signature(trader, admin):
    neg_risk = admin.create_market(neg_risk=True)
    assert neg_risk["exchange"] == config.NEG_RISK_EXCHANGE
    good = trader.signed_order(neg_risk["token_ids"][0], "BUY", 0.3, 10, neg_risk=True)
    assert trader.post("/order", good).json()["status"] == "live"
    bad = trader.signed_order(neg_risk["token_ids"][0], "BUY", 0.3, 10, neg_risk=False)
    assert trader.post("/order", bad).json() == INVALID_SIGNATURE


@pytest.mark.parametrize("field", ["makerAmount", "takerAmount", "salt", "timestamp"])
def test_tampered_order_is_rejected(trader, market, field):
    payload = trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10)
    payload["order"][field] = str(int(payload["order"][field]) + 10_000)
    response = trader.post("/order", payload)
    assert (response.status_code, response.json()) == (400, INVALID_SIGNATURE)


def test_post_without_l2_headers_is_401(server, trader, market):
    body = json.dumps(trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10))
    response = httpx.post(server.url + "/order", content=body)
    assert (response.status_code, response.json()) == (401, {"error": "Unauthorized/Invalid api key"})


def test_wrong_hmac_stale_timestamp_and_wrong_passphrase_are_401(server, trader, market):
    body = json.dumps(trader.signed_order(market["token_ids"][0], "BUY", 0.3, 10), separators=(",", ":"))
    headers = trader.headers("POST", "/order", body)
    tampered = {**headers, "POLY_SIGNATURE": trader.headers("POST", "/order", body + " ")["POLY_SIGNATURE"]}
    assert httpx.post(server.url + "/order", content=body, headers=tampered).status_code == 401
    stale = trader.headers("POST", "/order", body, timestamp=int(time.time()) - 3600)
    assert httpx.post(server.url + "/order", content=body, headers=stale).status_code == 401
    wrong_pass = {**headers, "POLY_PASSPHRASE": "0" * 64}
    assert httpx.post(server.url + "/order", content=body, headers=wrong_pass).status_code == 401
    assert httpx.post(server.url + "/order", content=body, headers=headers).status_code == 200


def test_l2_signature_covers_the_path(trader):
    headers = trader.headers("GET", "/data/trades")
    response = trader.http.get("/data/orders", headers=headers)
    assert response.status_code == 401


def test_l1_key_creation_needs_a_valid_wallet_signature(server):
    account, other = Account.create(), Account.create()
    from py_clob_client_v2.headers.headers import create_level_1_headers

    headers = create_level_1_headers(Signer(other.key.hex(), 137), nonce=0)
    headers["POLY_ADDRESS"] = account.address
    response = httpx.post(server.url + "/auth/api-key", headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "Invalid L1 Request headers"})
    stale = create_level_1_headers(Signer(account.key.hex(), 137), nonce=0, timestamp=int(time.time()) - 3600)
    assert httpx.get(server.url + "/auth/derive-api-key", headers=stale).status_code == 401


def test_api_keys_are_per_nonce_and_create_twice_is_400(server):
    from py_clob_client_v2 import ClobClient

    key = Account.create().key.hex()
    client = ClobClient(server.url, chain_id=137, key=key)
    first = client.create_api_key(nonce=0)
    assert client.derive_api_key(nonce=0) == first
    assert client.create_api_key(nonce=1) != first
    from py_clob_client_v2.exceptions import PolyApiException

    with pytest.raises(PolyApiException) as raised:
        client.create_api_key(nonce=0)
    assert raised.value.status_code == 400


def test_order_owner_must_be_the_api_key(server, admin, market):
    alice, bob = Trader(server.url, admin), Trader(server.url, admin)
    payload = alice.signed_order(market["token_ids"][0], "BUY", 0.3, 10)
    response = bob.post("/order", payload)  # Bob's headers, Alice's order and owner
    assert response.status_code == 400
