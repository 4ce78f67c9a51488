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
            # A trade-triggered `book` carries no tick_size/neg_risk (SHAPES.md [A]): keep the snapshot's.
            self.meta[event["asset_id"]] = {**self.meta.get(event["asset_id"], {}), **event}
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
            min_order_size=meta["min_order_size"],
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
                      last_trade_price=rest["last_trade_price"], min_order_size=rest["min_order_size"]) == rest["hash"]
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


TRADE_BOOK_KEYS = ["market", "asset_id", "bids", "asks", "hash", "timestamp", "event_type"]  # SHAPES.md [A] line 3


def test_a_trade_is_followed_by_a_book_frame_per_token_hashed_with_one_last_trade_price(server, admin):
    """After a fill at YES 0.42, both tokens' hashes (price_change entries and the `book` frames that follow)
    use the same last trade price "0.420" (not 0.58 for NO), as the hash-verified Dec 2025 sequence shows."""
    market = admin.create_market(tick_size="0.01", min_order_size=1)
    yes, no = market["token_ids"]
    admin.house(yes, "BUY", "0.42", "10")
    with connect(server.ws_url + "/ws/market") as ws:
        ws.send(json.dumps({"type": "market", "assets_ids": [yes, no]}))
        client = ClientBook()
        for event in _events(ws.recv(timeout=5)):
            client.apply(event)
        admin.house(yes, "SELL", "0.42", "4")  # trades 4 against the resting bid
        books: dict[str, dict] = {}

        def both_books() -> bool:
            try:
                frame = ws.recv(timeout=0.1)
            except TimeoutError:
                return False
            for event in _events(frame):
                if event["event_type"] == "price_change":
                    client.apply(event, {yes: "0.420", no: "0.420"})  # checks every entry's hash
                elif event["event_type"] == "book":
                    books[event["asset_id"]] = event
                    client.apply(event)
            return len(books) == 2

        eventually(both_books, timeout=5)
    for token in (yes, no):
        frame = books[token]
        assert list(frame) == TRADE_BOOK_KEYS
        bids, asks = client.wire(token)
        assert frame["hash"] == book_hash(market=market["condition_id"], asset_id=token,
                                          timestamp=frame["timestamp"], bids=bids, asks=asks, tick_size="0.01",
                                          neg_risk=False, last_trade_price="0.420", min_order_size="1")
    assert books[yes]["bids"] == [{"price": "0.42", "size": "6"}]
    rest = httpx.get(server.url + "/book", params={"token_id": no}).json()
    assert rest["last_trade_price"] == "0.420" and rest["asks"] == [{"price": "0.58", "size": "6"}]
