"""Issue 14 item 7: the CLOB's other market lists, price history, and the custom `new_market` event."""

from __future__ import annotations

import json

import httpx
from websockets.sync.client import connect

from shared.polymarket.schemas import NewMarketMessage, decode_market_frame
from tests.fixtures import load_json


def test_sampling_and_simplified_pages(server, admin):
    market = admin.create_market()
    for path in ("/sampling-markets", "/simplified-markets", "/sampling-simplified-markets"):
        page = httpx.get(server.url + path).json()
        assert set(page) == {"data", "next_cursor", "limit", "count"} and page["next_cursor"] == "LTE="
        assert market["condition_id"] in {row["condition_id"] for row in page["data"]}
    full = httpx.get(server.url + "/sampling-markets").json()["data"][0]
    assert {"question", "tokens", "rewards", "minimum_tick_size"} <= set(full)


def test_prices_history_needs_a_window_and_reads_trades(server, admin):
    market = admin.create_market()
    yes, no = market["token_ids"]
    assert httpx.get(server.url + "/prices-history", params={"market": yes}).status_code == 400
    admin.house(yes, "SELL", "0.30", "10")
    admin.house(yes, "BUY", "0.30", "10")
    (point,) = httpx.get(server.url + "/prices-history", params={"market": no, "interval": "1h"}).json()["history"]
    assert point["p"] == 0.7  # the NO token's own price


def test_new_market_carries_the_numeric_gamma_id_and_fee_fields(server, admin):
    """Capture rust-test-data/ws_market_new_market_msg.json: `id` is Gamma's numeric market id ("1031769")."""
    captured = load_json("polymarket-captures/rust-test-data/ws_market_new_market_msg.json")
    with connect(server.ws_url + "/ws/market") as ws:
        ws.send(json.dumps({"type": "market", "assets_ids": [], "custom_feature_enabled": True}))
        market = admin.create_market(fee_rate="0.07", fee_exponent="1")
        frame = ws.recv(timeout=5)
    (message,) = decode_market_frame(frame)
    assert isinstance(message, NewMarketMessage) and message.id.isdigit()
    event = json.loads(frame)
    assert set(captured) <= set(event), set(captured) - set(event)
    gamma = httpx.get(server.url + "/gamma/markets", params={"condition_ids": market["condition_id"]}).json()
    (listed,) = gamma if isinstance(gamma, list) else gamma["markets"]
    assert listed["id"] == event["id"]
    assert (event["fees_enabled"], event["taker_base_fee"]) == (True, "1000")  # live fee markets: 1000
    assert event["fee_schedule"]["rate"] == 0.07 and listed["takerBaseFee"] == 1000
