"""Gamma under /gamma, read with the official SDK (PublicClient) and raw, against the captured field types."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from polymarket import PublicClient

from shared.polymarket.sdk_env import paper_environment
from tests.fixtures import fixture_path

CAPTURED_MARKET = fixture_path(
    "polymarket-captures/rust-test-data/gamma_market_sports_market_money_line.json")


@pytest.fixture(scope="module")
def public(server):
    client = PublicClient(paper_environment(server.url))
    yield client
    client.close()


@pytest.fixture(scope="module")
def event(admin) -> list[dict]:
    response = admin.http.post("/events", json={"title": "Gamma test event", "outcomes": ["A", "B", "C"],
                                                "tags": ["GammaTag"], "fee_rate": "0.03"})
    response.raise_for_status()
    return response.json()


def test_market_fields_have_the_captured_names_and_types(server, market):
    raw = httpx.get(server.url + "/gamma/markets", params={"condition_ids": market["condition_id"]}).json()
    (item,) = raw
    captured = json.loads(CAPTURED_MARKET.read_text())
    for name in ("id", "conditionId", "question", "slug", "clobTokenIds", "outcomes", "outcomePrices", "negRisk",
                 "endDate", "volume", "volumeNum", "volume24hr", "liquidity", "liquidityNum", "orderPriceMinTickSize",
                 "orderMinSize", "active", "closed", "acceptingOrders", "enableOrderBook", "feesEnabled",
                 "makerBaseFee", "takerBaseFee", "bestBid", "bestAsk", "spread", "lastTradePrice", "questionID"):
        assert name in item, name
        if name in captured:
            assert type(item[name]) is type(captured[name]) or {type(item[name]), type(captured[name])} <= {int, float}, name
    assert json.loads(item["clobTokenIds"]) == market["token_ids"]
    assert json.loads(item["outcomes"]) == ["Yes", "No"] and item["version"] == "v1"


def test_sdk_lists_markets_with_filters(public, market, event):
    found = list(public.list_markets(condition_ids=[market["condition_id"]]).iter_items())
    assert [m.condition_id for m in found] == [market["condition_id"]]
    assert found[0].outcomes.yes.token_id == market["token_ids"][0]
    assert found[0].trading.minimum_tick_size == Decimal("0.01") and found[0].state.accepting_orders
    by_slug = public.get_market(slug=found[0].slug)
    assert by_slug.id == found[0].id and public.get_market(id=found[0].id).slug == found[0].slug
    (first,) = public.list_markets(condition_ids=[event[0]["condition_id"]]).iter_items()
    (tag,) = public.get_market_tags(first.id)
    tagged = list(public.list_markets(tag_id=int(tag.id)).iter_items())
    assert sorted(m.condition_id for m in tagged) == sorted(m["condition_id"] for m in event)
    assert all(m.trading.fee_schedule.rate == Decimal("0.03") and m.state.neg_risk for m in tagged)


def test_keyset_pages_through_every_market(server, public, event):
    everything = httpx.get(server.url + "/gamma/markets", params={"limit": 1000}).json()
    paged = list(public.list_markets(page_size=2).iter_items())
    assert [m.condition_id for m in paged] == [m["conditionId"] for m in everything]
    first = httpx.get(server.url + "/gamma/markets/keyset", params={"limit": 2}).json()
    assert len(first["markets"]) == 2 and first["next_cursor"]


def test_events_group_neg_risk_markets(server, public, event):
    (found,) = [e for e in public.list_events().iter_items() if e.title == "Gamma test event"]
    assert found.trading.neg_risk and len(found.markets) == 3
    assert public.get_event(slug=found.slug).id == found.id
    raw = httpx.get(server.url + f"/gamma/events/{found.id}").json()
    assert type(raw["volume"]) in (int, float) and raw["negRiskMarketID"] == event[0]["neg_risk_market_id"]


def test_closed_and_active_filters_follow_resolution(server, admin, market):
    admin.http.post(f"/markets/{market['condition_id']}/resolve", json={}).raise_for_status()
    params = {"condition_ids": market["condition_id"]}
    assert httpx.get(server.url + "/gamma/markets", params={**params, "closed": "false"}).json() == []
    (item,) = httpx.get(server.url + "/gamma/markets", params={**params, "closed": "true"}).json()
    assert json.loads(item["outcomePrices"]) == ["1", "0"] and item["acceptingOrders"] is False
    assert "closedTime" in item
