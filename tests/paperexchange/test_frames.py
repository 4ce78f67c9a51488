"""WebSocket framing as on Polymarket: the market channel's subscription answer is one array of `book`
objects; every live event after it (price_change, last_trade_price, book after a trade, best_bid_ask, ...)
and every user-channel event is one JSON object per frame, however many are queued at once
(captures in tests/fixtures/polymarket-captures/python-ws/ are all single objects; SHAPES.md: only the
subscription snapshot is an array). The `inject` fault sends each given event as a frame of its own."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from tests.paperexchange.helpers import Admin, Trader

pytestmark = pytest.mark.integration


def _frames_until_pong(ws) -> list[object]:
    """Every frame received before the answer to a PING, decoded but not unpacked."""
    ws.send("PING")
    frames = []
    while (frame := ws.recv(timeout=5)) != "PONG":
        frames.append(json.loads(frame))
    return frames


def _market_socket(server, tokens: list[str]):
    ws = connect(server.ws_url + "/ws/market", open_timeout=5)
    ws.send(json.dumps({"type": "market", "assets_ids": tokens, "custom_feature_enabled": True}))
    snapshot = json.loads(ws.recv(timeout=5))
    assert isinstance(snapshot, list) and {b["asset_id"] for b in snapshot} == set(tokens)
    assert all(b["event_type"] == "book" for b in snapshot)
    return ws


def test_live_events_queued_together_arrive_one_object_per_frame(server, admin: Admin, market, trader: Trader):
    yes, no = market["token_ids"]
    admin.house(yes, "SELL", "0.40", "10")
    admin.house(yes, "SELL", "0.41", "10")
    creds = trader.creds
    with _market_socket(server, [yes, no]) as market_ws, connect(server.ws_url + "/ws/user") as user_ws:
        user_ws.send(json.dumps({"type": "user", "auth": {"apiKey": creds.api_key, "secret": creds.api_secret,
                                                          "passphrase": creds.api_passphrase}}))
        # One taker order through two levels: price changes, trade prices, two books, best_bid_ask, all
        # produced in one request and queued for the socket together.
        response = trader.post("/order", trader.signed_order(yes, "BUY", 0.41, 20))
        assert response.status_code == 200 and response.json()["success"], response.text
        market_frames, user_frames = _frames_until_pong(market_ws), _frames_until_pong(user_ws)
    assert market_frames and all(isinstance(frame, dict) for frame in market_frames), market_frames
    kinds = [frame["event_type"] for frame in market_frames]
    assert {"price_change", "last_trade_price", "book", "best_bid_ask"} <= set(kinds), kinds
    assert kinds.count("book") == 2  # one per token after the trade, each a frame of its own
    assert user_frames and all(isinstance(frame, dict) for frame in user_frames), user_frames
    assert {frame["event_type"] for frame in user_frames} == {"order", "trade"}


def test_injected_events_arrive_as_frames_of_their_own_before_the_next_event(server, admin: Admin, market):
    token = market["token_ids"][0]
    unknown = [{"event_type": "order_book_v9", "market": market["condition_id"], "n": n} for n in (1, 2)]
    with _market_socket(server, [token]) as ws:
        response = admin.http.post("/faults/ws", json={"channel": "market", "action": "inject", "events": unknown})
        response.raise_for_status()
        assert _frames_until_pong(ws) == []  # held for the next event
        admin.house(token, "BUY", "0.30", "10")
        frames = _frames_until_pong(ws)
    assert frames[:2] == unknown
    assert isinstance(frames[2], dict) and frames[2]["event_type"] == "price_change"
    assert all(isinstance(frame, dict) for frame in frames)
