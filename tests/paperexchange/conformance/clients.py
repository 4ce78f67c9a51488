"""The two clients the conformance cases run with, behind one small interface: polymarket-client (the
official SDK, pinned 0.14.0) and py-clob-client-v2. Each method returns plain values (Decimal, str, dict)
so that one assertion covers both. A client without the call raises NotOffered (the case is skipped
for it, naming why)."""

from __future__ import annotations

from decimal import Decimal

from eth_account import Account
from polymarket import SecureClient
from polymarket.errors import RequestRejectedError
from polymarket.models.clob.requests import PriceRequest
from py_clob_client_v2 import ClobClient, MarketOrderArgs, OrderArgs
from py_clob_client_v2.clob_types import OrderType, PricesHistoryParams, TradeParams
from py_clob_client_v2.exceptions import PolyApiException

from shared.polymarket.sdk_env import paper_environment


class NotOffered(Exception):
    """This client has no call for what the case checks."""


class Official:
    name = "polymarket"

    def __init__(self, url: str, account) -> None:
        self.client = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                          environment=paper_environment(url))

    def close(self) -> None:
        self.client.close()

    def price(self, token: str, side: str) -> Decimal:
        return self.client.get_price(asset_id=token, side=side)

    def prices(self, pairs: list[tuple[str, str]]) -> dict[str, dict[str, Decimal]]:
        found = self.client.get_prices(requests=[PriceRequest(asset_id=t, side=s) for t, s in pairs])
        return {token: dict(sides) for token, sides in found.items()}

    def last_trade_prices(self, tokens: list[str]) -> dict[str, tuple[Decimal, str]]:
        return {r.asset_id: (r.price, r.side) for r in self.client.get_last_trade_prices(asset_ids=tokens)}

    def limit(self, token: str, side: str, price: str, size: str) -> dict:
        try:
            r = self.client.place_limit_order(asset_id=token, price=price, size=size, side=side)
        except RequestRejectedError as error:  # a single post's refusal comes back as an HTTP 400
            return {"ok": False, "error": str(error)}
        if not r.ok:
            return {"ok": False, "error": r.message}
        return {"ok": True, "status": r.status, "order_id": r.order_id, "trade_ids": list(r.trade_ids)}

    def market_buy(self, token: str, amount: str, max_price: str, order_type: str) -> dict:
        try:
            r = self.client.place_market_order(asset_id=token, side="BUY", amount=amount, max_price=max_price,
                                               order_type=order_type)
        except RequestRejectedError as error:
            return {"ok": False, "error": str(error)}
        if not r.ok:
            return {"ok": False, "error": r.message}
        return {"ok": True, "status": r.status, "making": r.making_amount, "taking": r.taking_amount}

    def trades(self) -> list[dict]:
        return [{"id": t.id, "trader_side": t.trader_side, "size": t.size, "side": t.side,
                 "status": str(t.status).removeprefix("TRADE_STATUS_"), "taker_order_id": t.taker_order_id,
                 "makers": [(m.order_id, m.matched_amount, m.price, m.side) for m in t.maker_orders]}
                for t in self.client.list_account_trades().iter_items()]

    def simplified_markets(self) -> list[dict]:
        raise NotOffered("polymarket-client lists markets from Gamma, not the CLOB's simplified pages")

    def prices_history(self, token: str) -> list[dict]:
        raise NotOffered("polymarket-client reads price history from the Data API (/v2/prices-history)")


class V2:
    name = "py_clob_client_v2"

    def __init__(self, url: str, account) -> None:
        self.client = ClobClient(url, chain_id=137, key=account.key.hex())
        self.client.set_api_creds(self.client.create_or_derive_api_key())

    def close(self) -> None:
        pass

    def price(self, token: str, side: str) -> Decimal:
        return Decimal(str(self.client.get_price(token, side)["price"]))

    def prices(self, pairs: list[tuple[str, str]]) -> dict[str, dict[str, Decimal]]:
        from py_clob_client_v2.clob_types import BookParams

        found = self.client.get_prices([BookParams(token_id=t, side=s) for t, s in pairs])
        return {token: {side: Decimal(str(p)) for side, p in sides.items()} for token, sides in found.items()}

    def last_trade_prices(self, tokens: list[str]) -> dict[str, tuple[Decimal, str]]:
        from py_clob_client_v2.clob_types import BookParams

        rows = self.client.get_last_trades_prices([BookParams(token_id=t) for t in tokens])
        return {r["token_id"]: (Decimal(str(r["price"])), r["side"]) for r in rows}

    def limit(self, token: str, side: str, price: str, size: str) -> dict:
        try:
            r = self.client.create_and_post_order(OrderArgs(token_id=token, price=float(price), size=float(size),
                                                            side=side))
        except PolyApiException as error:  # the client raises it on a 4xx
            return {"ok": False, "error": str(error)}
        return {"ok": bool(r.get("success")), "status": r.get("status"), "order_id": r.get("orderID"),
                "trade_ids": list(r.get("tradeIDs") or []), "error": r.get("errorMsg")}

    def market_buy(self, token: str, amount: str, max_price: str, order_type: str) -> dict:
        try:
            r = self.client.create_and_post_market_order(
                MarketOrderArgs(token_id=token, amount=float(amount), side="BUY", price=float(max_price),
                                order_type=getattr(OrderType, order_type)),
                order_type=getattr(OrderType, order_type))
        except PolyApiException as error:
            return {"ok": False, "error": str(error)}
        return {"ok": bool(r.get("success")), "status": r.get("status"), "making": Decimal(r["makingAmount"]),
                "taking": Decimal(r["takingAmount"]), "error": r.get("errorMsg")}

    def trades(self) -> list[dict]:
        return [{"id": t["id"], "trader_side": t["trader_side"], "size": Decimal(t["size"]), "side": t["side"],
                 "status": t["status"].removeprefix("TRADE_STATUS_"), "taker_order_id": t["taker_order_id"],
                 "makers": [(m["order_id"], Decimal(m["matched_amount"]), Decimal(m["price"]), m["side"])
                            for m in t["maker_orders"]]}
                for t in self.client.get_trades(TradeParams())]

    def simplified_markets(self) -> list[dict]:
        return self.client.get_simplified_markets()["data"]

    def prices_history(self, token: str) -> list[dict]:
        return self.client.get_prices_history(PricesHistoryParams(market=token, interval="1d"))["history"]


CLIENTS = {"polymarket": Official, "py_clob_client_v2": V2}


def new_account():
    return Account.create()
