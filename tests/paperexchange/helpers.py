"""Test helpers for the paper exchange: the admin API, and raw signed requests built with
py-clob-client-v2's own signer and HMAC (an implementation independent of the server's)."""

from __future__ import annotations

import json
import uuid

import httpx
from eth_account import Account
from py_clob_client_v2.clob_types import ApiCreds, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
from py_clob_client_v2.order_utils.model.side import Side
from py_clob_client_v2.signer import Signer

from paperexchange.core import config
from tests.helpers import eventually


class Admin:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url + "/_paper", timeout=10)

    def create_market(self, **fields) -> dict:
        fields.setdefault("question", f"Test market {uuid.uuid4()}")
        response = self.http.post("/markets", json=fields)
        response.raise_for_status()
        return response.json()

    def fund(self, address: str, collateral: str = "1000", tokens: dict | None = None, approve: bool = True) -> dict:
        response = self.http.post("/fund", json={"address": address, "collateral": collateral,
                                                 "tokens": tokens or {}, "approve": approve})
        response.raise_for_status()
        return response.json()

    def house(self, token_id: str, side: str, price: str, size: str) -> dict:
        response = self.http.post("/orders", json=[{"token_id": token_id, "side": side, "price": price, "size": size}])
        response.raise_for_status()
        return response.json()[0]

    def orders(self) -> list[dict]:
        return self.http.get("/orders").json()

    def trades(self) -> list[dict]:
        return self.http.get("/trades").json()

    def balances(self, address: str) -> dict:
        return self.http.get(f"/balances/{address}").json()

    def wait_mined(self, trade_ids, timeout: float = 5.0) -> None:
        """Wait until every trade reached the chain (MINED or CONFIRMED): only then are the tokens bought
        (or the pUSD of a sale) in the wallet, as on Polymarket."""
        wanted = set(trade_ids)
        eventually(lambda: wanted and all(
            t["status"] in ("MINED", "CONFIRMED") for t in self.trades() if t["id"] in wanted), timeout=timeout)

    def faults(self, **fields) -> None:
        self.http.post("/faults", json=fields).raise_for_status()


class Trader:
    """A funded EOA with API credentials that signs and sends raw requests."""

    def __init__(self, url: str, admin: Admin, collateral: str = "1000") -> None:
        self.account = Account.create()
        self.url = url
        admin.fund(self.account.address, collateral)
        self.signer = Signer(self.account.key.hex(), 137)
        from py_clob_client_v2 import ClobClient

        client = ClobClient(url, chain_id=137, key=self.account.key.hex())
        self.creds: ApiCreds = client.create_or_derive_api_key()
        self.http = httpx.Client(base_url=url, timeout=10)

    @property
    def address(self) -> str:
        return self.account.address

    def headers(self, method: str, path: str, body: str | None = None, timestamp: int | None = None) -> dict:
        args = RequestArgs(method=method, request_path=path, body=None, serialized_body=body)
        return create_level_2_headers(self.signer, self.creds, args, timestamp=timestamp)

    def signed_order(self, token_id: str, side: str, price: float, size: float, *, neg_risk: bool = False,
                     domain_version: str = "2", signer: Signer | None = None, order_type: str = "GTC",
                     post_only: bool = False, expiration: str = "0",
                     amounts: tuple[int, int] | None = None) -> dict:
        """A signed V2 order; `amounts` = (makerAmount, takerAmount) in base units overrides price x size."""
        exchange = config.NEG_RISK_EXCHANGE if neg_risk else config.STANDARD_EXCHANGE
        builder = ExchangeOrderBuilderV2(exchange, 137, signer or self.signer, domain_version=domain_version)
        shares = int(round(size * 1_000_000))
        notional = int(round(size * price * 1_000_000))
        maker, taker = (notional, shares) if side == "BUY" else (shares, notional)
        if amounts is not None:
            maker, taker = amounts
        data = OrderDataV2(
            maker=(signer or self.signer).address(), tokenId=token_id, makerAmount=str(maker),
            takerAmount=str(taker), side=Side.BUY if side == "BUY" else Side.SELL, expiration=expiration,
        )
        order = builder.build_signed_order(data)
        return order_to_json_v2(order, self.creds.api_key, order_type, post_only)

    def post(self, path: str, payload, method: str = "POST", timestamp: int | None = None) -> httpx.Response:
        body = json.dumps(payload, separators=(",", ":"))
        return self.http.request(method, path, content=body, headers={
            **self.headers(method, path, body, timestamp), "Content-Type": "application/json"})

    def get(self, path: str, params: dict | None = None) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers("GET", path))


def admin_cancel(admin: Admin, order_ids: list[str]) -> dict:
    response = admin.http.post("/cancel", json={"order_ids": order_ids})
    response.raise_for_status()
    return response.json()
