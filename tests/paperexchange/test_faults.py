"""Faults on demand, each switched on and off through /_paper/faults and seen by the official client
(polymarket-client) or a raw WebSocket exactly as the real failure would be seen."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from polymarket import SecureClient
from polymarket.errors import RateLimitError, RequestRejectedError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from paperexchange.core.clock import ManualClock
from paperexchange.server import PaperExchangeServer
from shared.polymarket.sdk_env import paper_environment
from tests.paperexchange.conftest import SETTLEMENT_DELAY_SECS
from tests.paperexchange.helpers import Admin


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock):
    """A venue on a manual clock, so restart and post-only windows are stepped through, not slept."""
    with PaperExchangeServer(admin=True, settlement_delay_secs=SETTLEMENT_DELAY_SECS, clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def client(server, admin):
    account = Account.create()
    admin.fund(account.address, "1000")
    sdk = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                              environment=paper_environment(server.url))
    yield sdk
    sdk.close()


@pytest.fixture(autouse=True)
def no_faults_left(admin):
    yield
    admin.http.delete("/faults").raise_for_status()


def fault(admin: Admin, kind: str, **body) -> dict:
    response = admin.http.post(f"/faults/{kind}", json=body)
    response.raise_for_status()
    return response.json()


def bid(client, market: dict, price: str = "0.40", post_only: bool = False):
    return client.place_limit_order(asset_id=market["token_ids"][0], price=price, size="10", side="BUY",
                                    post_only=post_only)


def test_429_with_retry_after_and_rate_limit_headers_then_auto_off(admin, client, market):
    fault(admin, "http", status=429, paths=["/order"], count=1, retry_after_secs=3)
    with pytest.raises(RateLimitError) as caught:
        bid(client, market)
    assert caught.value.retry_after == 3
    assert caught.value.rate_limit is not None and caught.value.rate_limit.remaining == 0
    assert bid(client, market).ok  # count reached: the fault switched itself off


def test_restart_window_then_post_only_mode(admin, client, market, clock):
    resting = bid(client, market, "0.30")
    fault(admin, "restart", mode="restart", secs=90, post_only_secs=120)
    with pytest.raises(RequestRejectedError) as caught:
        bid(client, market)
    assert (caught.value.status, caught.value.restriction) == (425, "restarting")
    with pytest.raises(RequestRejectedError) as caught:
        client.cancel_order(order_id=resting.order_id)
    assert caught.value.status == 425
    assert client.get_order_book(asset_id=market["token_ids"][0]).bids  # reads are not order endpoints

    clock.advance(91)
    with pytest.raises(RequestRejectedError) as caught:
        bid(client, market)
    assert (caught.value.status, caught.value.restriction, caught.value.code) == (503, "post_only", "post_only_mode")
    assert "post-only mode" in str(caught.value)
    assert bid(client, market, "0.35", post_only=True).status == "live"  # postOnly orders still accepted
    assert client.cancel_order(order_id=resting.order_id).canceled == (resting.order_id,)  # and cancels

    clock.advance(120)
    assert bid(client, market).status == "live"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_on_chosen_paths_and_methods(admin, client, market, status):
    fault(admin, "http", status=status, paths=["/order"], methods=["POST"])
    with pytest.raises(RequestRejectedError) as caught:
        bid(client, market)
    assert caught.value.status == status and caught.value.restriction is None
    assert client.get_order_book(asset_id=market["token_ids"][0]) is not None  # other paths untouched
    listed = admin.http.get("/faults").json()["rules"]
    assert [(r["status"], r["paths"]) for r in listed] == [(status, ["/order"])]
    admin.http.delete("/faults").raise_for_status()
    assert admin.http.get("/faults").json()["rules"] == []
    assert bid(client, market).ok


def _open_ids(client, market: dict) -> list[str]:
    return [o.id for o in client.list_open_orders(asset_id=market["token_ids"][0]).iter_items()]


def test_after_apply_500_means_the_order_was_placed(admin, client, market):
    fault(admin, "http", status=500, paths=["/order"], count=1, after_apply=True)
    with pytest.raises(RequestRejectedError) as caught:
        bid(client, market)
    assert caught.value.status == 500
    assert len(_open_ids(client, market)) == 1  # unknown outcome: it is resting


def test_dropped_connection_after_apply(admin, client, market):
    fault(admin, "http", status="drop", paths=["/order"], count=1, after_apply=True)
    with pytest.raises(Exception) as caught:
        bid(client, market)
    assert not isinstance(caught.value, RequestRejectedError)  # a transport failure, no HTTP answer
    assert len(_open_ids(client, market)) == 1


def test_slow_responses_force_client_timeouts(server, admin, market):
    fault(admin, "delay", secs=1.0, paths=["/book"], count=1)
    token = market["token_ids"][0]
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + "/book", params={"token_id": token}, timeout=0.3)
    assert httpx.get(server.url + "/book", params={"token_id": token}, timeout=5).status_code == 200


def _events(frame: str) -> list[dict]:
    value = json.loads(frame)
    return value if isinstance(value, list) else [value]


def _subscribe(server, token: str):
    ws = connect(server.ws_url + "/ws/market", open_timeout=5)
    ws.send(json.dumps({"type": "market", "assets_ids": [token]}))
    assert _events(ws.recv(timeout=5))[0]["event_type"] == "book"
    return ws


def _until_pong(ws) -> list[dict]:
    """Every event received before the answer to a PING (which faults never touch)."""
    ws.send("PING")
    seen = []
    while (frame := ws.recv(timeout=5)) != "PONG":
        seen += _events(frame)
    return seen


def test_market_frames_duplicated_then_dropped_then_clean(server, admin, market):
    token = market["token_ids"][0]
    with _subscribe(server, token) as ws:
        fault(admin, "ws", channel="market", duplicate_ratio=1.0, seed=7)
        admin.house(token, "BUY", "0.20", "10")
        changes = [e for e in _until_pong(ws) if e["event_type"] == "price_change"]
        assert len(changes) == 2 and changes[0] == changes[1]

        fault(admin, "ws", channel="market", drop_ratio=1.0)
        admin.house(token, "BUY", "0.21", "10")
        assert _until_pong(ws) == []

        admin.http.delete("/faults").raise_for_status()
        admin.house(token, "BUY", "0.22", "10")
        assert [e["event_type"] for e in _until_pong(ws)].count("price_change") == 1


def test_market_disconnect(server, admin, market):
    with _subscribe(server, market["token_ids"][0]) as ws:
        assert fault(admin, "ws", channel="market", action="disconnect")["disconnected"] >= 1
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=5)
    with _subscribe(server, market["token_ids"][0]) as ws:  # reconnecting works
        assert _until_pong(ws) == []


def test_user_disconnect(server, admin, client):
    creds = client._ctx.credentials
    with connect(server.ws_url + "/ws/user", open_timeout=5) as ws:
        ws.send(json.dumps({"type": "user", "auth": {"apiKey": creds.key, "secret": creds.secret,
                                                    "passphrase": creds.passphrase}}))
        ws.send("PING")
        assert ws.recv(timeout=5) == "PONG"
        assert fault(admin, "ws", channel="user", action="disconnect")["disconnected"] == 1
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_bad_fault_bodies_are_refused(admin):
    assert admin.http.post("/faults/http", json={"status": 418}).status_code == 400
    assert admin.http.post("/faults/ws", json={"channel": "market", "drop_ratio": 2}).status_code == 400
    assert admin.http.post("/faults/nope", json={}).status_code == 400
