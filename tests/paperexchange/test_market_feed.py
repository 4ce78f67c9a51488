"""Market channel: a client's book rebuilt from `book` + every `price_change` equals GET /book after
every step of random order flow, for both tokens of a market (YES book and its NO mirror)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from shared.polymarket.book_hash import book_hash
from tests.helpers import eventually
from tests.paperexchange.helpers import admin_cancel


class ClientBook:
    """What a market-channel consumer keeps: levels per token, rebuilt from snapshots and deltas."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, dict[str, str]]] = {}
        self.meta: dict[str, dict] = {}

    def apply(self, event: dict, last_trade: dict[str, str] | None = None) -> None:
        kind = event["event_type"]
        if kind == "book":
            self.books[event["asset_id"]] = {
                "BUY": {lvl["price"]: lvl["size"] for lvl in event["bids"]},
                "SELL": {lvl["price"]: lvl["size"] for lvl in event["asks"]},
            }
            self.meta[event["asset_id"]] = event
        elif kind == "price_change":
            for entry in event["price_changes"]:
                side = self.books[entry["asset_id"]][entry["side"]]
                if Decimal(entry["size"]) == 0:
                    side.pop(entry["price"], None)
                else:
                    side[entry["price"]] = entry["size"]
                if last_trade is not None:
                    self._check_entry(event, entry, last_trade[entry["asset_id"]])

    def wire(self, asset_id: str) -> tuple[list, list]:
        book = self.books[asset_id]
        bids = sorted(book["BUY"].items(), key=lambda kv: Decimal(kv[0]))
        asks = sorted(book["SELL"].items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        return bids, asks

    def _check_entry(self, event: dict, entry: dict, last_trade_price: str) -> None:
        asset = entry["asset_id"]
        bids, asks = self.wire(asset)
        meta = self.meta[asset]
        assert entry["hash"] == book_hash(
            market=event["market"], asset_id=asset, timestamp=event["timestamp"], bids=bids, asks=asks,
            tick_size=meta["tick_size"], neg_risk=meta["neg_risk"], last_trade_price=last_trade_price,
        )
        assert entry["best_bid"] == (bids[-1][0] if bids else "0")
        assert entry["best_ask"] == (asks[-1][0] if asks else "1")


def _events(frame: str) -> list[dict]:
    decoded = json.loads(frame)
    return decoded if isinstance(decoded, list) else [decoded]


def _rest_matches(client: ClientBook, rest: dict) -> bool:
    if rest["asset_id"] not in client.books:
        return False
    bids, asks = client.wire(rest["asset_id"])
    return (
        [{"price": p, "size": s} for p, s in bids] == rest["bids"]
        and [{"price": p, "size": s} for p, s in asks] == rest["asks"]
        and book_hash(market=rest["market"], asset_id=rest["asset_id"], timestamp=rest["timestamp"], bids=bids,
                      asks=asks, tick_size=rest["tick_size"], neg_risk=rest["neg_risk"],
                      last_trade_price=rest["last_trade_price"]) == rest["hash"]
    )


place = st.tuples(st.just("place"), st.integers(0, 1), st.sampled_from(["BUY", "SELL"]), st.integers(40, 60),
                  st.integers(1, 40))
cancel = st.tuples(st.just("cancel"), st.integers(0, 1_000))
flows = st.lists(st.one_of(place, place, cancel), min_size=1, max_size=12)


@pytest.mark.timeout(90)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows)
def test_rebuilt_book_equals_rest_book_after_every_step(server, admin, flow):
    market = admin.create_market(tick_size="0.01", min_order_size=1)
    tokens = market["token_ids"]
    client, placed = ClientBook(), []
    http = httpx.Client(base_url=server.url)
    with connect(server.ws_url + "/ws/market") as ws:
        ws.send(json.dumps({"type": "market", "assets_ids": tokens, "custom_feature_enabled": False}))
        for event in _events(ws.recv(timeout=5)):
            client.apply(event)
        for action in [("snapshot",), *flow]:
            if action[0] == "place":
                _, token, side, ticks, size = action
                placed.append(admin.house(tokens[token], side, str(Decimal(ticks) / 100), str(size))["orderID"])
            elif action[0] == "cancel" and placed:
                admin_cancel(admin, [placed[action[1] % len(placed)]])
            rest = {token: http.get("/book", params={"token_id": token}).json() for token in tokens}
            last_trade = {token: rest[token]["last_trade_price"] for token in tokens}

            def caught_up() -> bool:
                while not all(_rest_matches(client, rest[token]) for token in tokens):
                    try:
                        frame = ws.recv(timeout=0.05)
                    except TimeoutError:
                        return False
                    if frame != "PONG":
                        for event in _events(frame):
                            client.apply(event, last_trade)
                return True

            eventually(caught_up, timeout=3)
