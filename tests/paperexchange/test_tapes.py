"""Tapes: a recording of the market channel replays through /ws/market to the same frames, at recorded
or accelerated speed; captured Polymarket sequences (plain JSONL, polypy message files) replay too."""

from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from paperexchange.server import PaperExchangeServer
from paperexchange.sim import tapes
from tests.fixtures import fixture_path
from tests.paperexchange.helpers import Admin

MESSAGES_HASH = fixture_path("polypy/orderbook/messages_hash.txt")
DERIVED = fixture_path("polypy/derived/test_server_messages.derived.jsonl")


def events(frame: str) -> list[dict]:
    value = json.loads(frame)
    return value if isinstance(value, list) else [value]


def collect(ws_url: str, assets: list[str], count: int) -> list[str]:
    frames = []
    with connect(ws_url + "/ws/market", open_timeout=5) as ws:
        ws.send(json.dumps({"type": "market", "assets_ids": assets}))
        while len(frames) < count:
            frames.append(ws.recv(timeout=10))
    return frames


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A tape of a market with some flow, and the events a live subscriber saw meanwhile."""
    path = tmp_path_factory.mktemp("tapes") / "tape.jsonl"
    with PaperExchangeServer(admin=True, default_markets=False, record_tape=str(path)) as server:
        admin = Admin(server.url)
        market = admin.create_market()
        yes = market["token_ids"][0]
        with connect(server.ws_url + "/ws/market", open_timeout=5) as ws:
            ws.send(json.dumps({"type": "market", "assets_ids": [yes]}))
            ws.recv(timeout=5)  # the subscriber's own snapshot
            for price in ("0.40", "0.41", "0.42"):
                admin.house(yes, "BUY", price, "10")
            admin.house(yes, "SELL", "0.41", "5")  # a trade
            ws.send("PING")
            live = []
            while (frame := ws.recv(timeout=5)) != "PONG":
                live += events(frame)
    return path, live, market


def test_every_event_is_recorded_with_its_time(recorded):
    path, live, market = recorded
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(line) == {"t", "frame"} and isinstance(line["t"], int) for line in lines)
    taped = [line["frame"] for line in lines if line["frame"].get("market") == market["condition_id"]
             and line["frame"]["event_type"] in ("price_change", "last_trade_price")]
    yes_or_both = [e for e in taped if e["event_type"] == "price_change" or e["asset_id"] == market["token_ids"][0]]
    assert yes_or_both == [e for e in live if e["event_type"] in ("price_change", "last_trade_price")]
    assert [e["event_type"] for e in live].count("last_trade_price") == 1


def test_a_recorded_tape_replays_to_the_same_frames(recorded):
    path, _, market = recorded
    expected = [json.loads(data) for _, data in tapes.load(path)]
    with PaperExchangeServer(admin=True, replay_tape=str(path), replay_speed=50) as server:
        Admin(server.url).create_market()  # live activity must not leak into a replay
        frames = collect(server.ws_url, [market["token_ids"][0]], count=len(expected))
    assert [json.loads(frame) for frame in frames] == expected


def test_replay_paces_frames_by_recorded_time(tmp_path):
    path = tmp_path / "paced.jsonl"
    frames = [{"event_type": "tick_size_change", "asset_id": "1", "market": "0x01", "old_tick_size": "0.01",
               "new_tick_size": "0.001", "timestamp": str(1000 * i)} for i in range(3)]
    path.write_text("".join(json.dumps({"t": 1000 * i, "frame": f}) + "\n" for i, f in enumerate(frames)))
    with PaperExchangeServer(replay_tape=str(path), replay_speed=4, default_markets=False) as server:
        started = time.monotonic()
        received = collect(server.ws_url, ["1"], count=3)
        elapsed = time.monotonic() - started
    assert [json.loads(f) for f in received] == frames
    assert elapsed >= 0.45  # 2 s of tape at 4x (lower bound only: the machine may be slow)


@pytest.mark.parametrize("source", [MESSAGES_HASH, DERIVED], ids=["polypy-messages", "derived-jsonl"])
def test_captured_polymarket_sequences_replay(source):
    expected = [json.loads(data) for _, data in tapes.load(source)]
    first = expected[0][0] if isinstance(expected[0], list) else expected[0]
    assert len(expected) >= 5 and "bids" in first  # starts from a book snapshot
    with PaperExchangeServer(replay_tape=str(source), replay_speed=1000, default_markets=False) as server:
        frames = collect(server.ws_url, [first["asset_id"]], count=len(expected))
    assert [json.loads(frame) for frame in frames] == expected


def test_tape_prints_as_plain_frames(recorded, capsysbinary):
    path, _, _ = recorded
    assert tapes.main(["frames", str(path)]) == 0
    plain = capsysbinary.readouterr().out.decode().splitlines()
    assert [json.loads(line) for line in plain] == [json.loads(d) for _, d in tapes.load(path)]
