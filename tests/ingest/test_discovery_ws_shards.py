"""Discovery on captured Gamma payloads (filters, neg-risk events kept whole, resolution), market sets,
settings, and the market-channel client's PING / stale replacement / resubscribe."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.server import serve

from services.ingest.discovery import Discovery
from services.ingest.shards import ShardMap
from shared.polymarket.gamma import GammaClient, GammaMarket
from shared.polymarket.parse import market_info
from shared.polymarket.ws import MarketConnection, WsOptions
from tests.fixtures import load_json
from tests.helpers import eventually
from tests.ingest.paper import ingest_settings

CAPTURES = "polymarket-captures/rust-test-data/"
NOW = 1_773_000_000.0  # 2026-03-08, before the captured markets end


def gamma_transport(markets: list[dict], events: list[dict]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        offset = int(params.get("offset", 0))
        if request.url.path.endswith("/events"):
            slugs = set(params.get_list("slug"))
            rows = [e for e in events if not slugs or e["slug"] in slugs]
        else:
            cids = set(params.get_list("condition_ids"))
            rows = [m for m in markets if not cids or m["conditionId"] in cids]
        return httpx.Response(200, json=rows[offset:offset + int(params.get("limit", 100))])

    return httpx.MockTransport(handler)


def captured_market() -> dict:
    return load_json(CAPTURES + "gamma_market.json")


def event_markets() -> tuple[dict, list[dict]]:
    event = load_json(CAPTURES + "gamma_event.json")[0]
    for m in event["markets"]:
        m.setdefault("events", [{"slug": event["slug"], "id": event["id"]}])
    return event, event["markets"]


def test_captured_gamma_market_translates():
    info = market_info(GammaMarket.model_validate(captured_market()))
    assert info is not None
    assert info.condition_id.startswith("0x7844") and len(info.tokens) == 2
    assert [t.outcome for t in info.tokens] == ["Up", "Down"]
    assert info.tick_size == Decimal("0.01") and info.min_order_size == 5 and info.event_slug


async def test_discovery_filters_keeps_neg_risk_events_whole_and_reports_changes():
    event, legs = event_markets()
    assert all(m["negRisk"] for m in legs) and len(legs) >= 2
    small = dict(legs[1], volume24hr=0)  # below the volume floor, kept because its event is selected
    markets = [captured_market(), legs[0], small]
    settings = ingest_settings(discovery_min_volume_24h_usd=5, discovery_end_within_days=4000)
    client = GammaClient("http://gamma", transport=gamma_transport(markets, [dict(event, markets=[legs[0], small])]))
    discovery = Discovery(settings, client, clock=lambda: NOW)
    first = await discovery.refresh()
    assert {m.condition_id for m in first.discovered} == {m["conditionId"] for m in markets}
    shards = ShardMap(("a", "b"), {"b": [f"event:{event['slug']}"]})
    assignment = shards.assign(first.discovered)
    assert assignment[legs[0]["conditionId"]] == assignment[small["conditionId"]] == "b"
    assert assignment[captured_market()["conditionId"]] == "a"

    markets[0] = dict(markets[0], orderPriceMinTickSize=0.001)
    second = await discovery.refresh()
    assert [(m.condition_id, changed) for m, changed in second.updated] == [
        (markets[0]["conditionId"], ("tick_size",))]

    closed = dict(markets[0], closed=True, outcomePrices='["1", "0"]')
    discovery.client = GammaClient("http://gamma", transport=gamma_transport([closed, legs[0], small], []))
    third = await discovery.refresh()
    assert third.resolved == [(closed["conditionId"], json.loads(closed["clobTokenIds"])[0], "Up")]
    await client.aclose()
    await discovery.client.aclose()


def test_market_sets_setting_parses_and_rejects_unknown_shards():
    settings = ingest_settings(shards="main,politics", market_sets='{"politics": "tag:politics"}')
    assert settings.market_sets == {"politics": ("tag:politics",)}
    with pytest.raises(ValueError, match="nowhere"):
        ingest_settings(shards="main", market_sets='{"nowhere": ["*"]}')


async def test_ws_pings_replaces_a_silent_socket_and_resubscribes():
    received: list[str] = []
    connections = 0

    async def handler(ws) -> None:
        nonlocal connections
        connections += 1
        mine = connections
        async for text in ws:
            received.append(text)
            if text == "PING" and mine > 1:
                await ws.send("PONG")  # the first socket never answers: it must be declared stale

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        connects: list[tuple[str, ...]] = []

        async def on_connect(assets: tuple[str, ...]) -> None:
            connects.append(assets)

        async def on_frame(_frame: object) -> None:
            return None

        conn = MarketConnection("t", f"ws://127.0.0.1:{port}", on_frame, on_connect=on_connect,
                                options=WsOptions(ping_interval_secs=0.1, stale_after_secs=0.5,
                                                  backoff_base_secs=0.05, backoff_max_secs=0.1))
        await conn.add(["1", "2"])
        conn.start()

        async def replaced() -> bool:
            return conn.stats.stale >= 1 and conn.stats.connects >= 2 and conn.stats.pongs >= 2

        await eventually(replaced, timeout=10)
        await conn.close()
    subscribes = [json.loads(t) for t in received if t.startswith("{")]
    assert len(subscribes) >= 2 and all(s["assets_ids"] == ["1", "2"] and s["type"] == "market" for s in subscribes)
    assert received.count("PING") >= 3
    assert connects[:2] == [("1", "2"), ("1", "2")]
