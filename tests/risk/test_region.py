"""Risk's view of the trading region, read from the paper exchange's /api/geoblock."""

from __future__ import annotations

import httpx
import pytest

from paperexchange.server import PaperExchangeServer
from services.risk.region import RegionWatch


@pytest.fixture(scope="module")
def exchange():
    with PaperExchangeServer(admin=True, default_markets=False) as server:
        yield server


def set_mode(exchange, mode):
    httpx.post(exchange.url + "/_paper/geoblock", json={"mode": mode}).raise_for_status()


async def test_the_region_follows_the_venue_and_a_failed_check_keeps_a_restriction(exchange):
    watch = RegionWatch(exchange.url + "/api/geoblock", 60)
    set_mode(exchange, "ok")
    assert await watch.check() == "ok"
    set_mode(exchange, "close_only")
    assert await watch.check() == "close_only"
    watch.url = exchange.url + "/gone"  # the check now fails: never a safer state than the last known
    assert await watch.check() == "close_only"
    set_mode(exchange, "blocked")
    watch.url = exchange.url + "/api/geoblock"
    assert await watch.check() == "blocked"
    set_mode(exchange, "ok")
    assert await watch.check() == "ok"
    watch.url = exchange.url + "/gone"
    assert await watch.check() == "unknown"  # nothing restricting known, nothing safe claimed


def test_unset_url_means_unchecked():
    assert RegionWatch(None, 60).status == "unchecked"
