"""Ingest on the declarative runtime (issue 18 item 1), against the paper exchange and a real Redis:
discovery is a periodic job, so Gamma failing is logged and backed off while ingest stays up (its health
key kept) and the markets arrive once Gamma answers again; a socket's read loop is a long-running task, so
its death deletes the health key and stops ingest with exit 1 for its supervisor."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from paperexchange.server import PaperExchangeServer
from services.ingest.feed import Feed
from services.ingest.service import build_main
from shared import metrics
from shared.lifecycle import health_key, run_service
from shared.logging import read_events
from shared.messages import BookSnapshot, MarketDiscovered
from shared.streams import events_stream
from tests.helpers import eventually
from tests.ingest.paper import ingest_settings
from tests.paperexchange.helpers import Admin

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _settings(server, redis_url, prefix, tmp_path, condition_id: str):
    return ingest_settings(
        redis_url=redis_url, stream_prefix=prefix, log_dir=tmp_path / "logs", state_dir=tmp_path / "state",
        instance="t1", health_ttl_secs=3.0, clob_url=server.url, market_ws_url=server.ws_url + "/ws/market",
        gamma_url=server.url + "/gamma", data_api_url=server.url + "/data-api",
        discovery_condition_ids=(condition_id,), discovery_refresh_secs=0.5)


def _discovery_errors() -> float:
    return metrics.PERIODIC_JOB_ERRORS.labels(service="ingest", job="ingest:discovery")._value.get()


async def _health(bus, prefix) -> dict | None:
    raw = await bus.redis.get(health_key(prefix, "ingest", "t1"))
    return None if raw is None else json.loads(raw)


async def test_a_failing_discovery_is_backed_off_and_ingest_stays_up(bus, redis_url, prefix, tmp_path):
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.1) as server:
        admin = Admin(server.url)
        market = admin.create_market()
        admin.http.post("/faults/http", json={"status": 500, "paths": ["/gamma/*"]}).raise_for_status()
        settings = _settings(server, redis_url, prefix, tmp_path, market["condition_id"])
        before = _discovery_errors()
        service = asyncio.create_task(run_service("ingest", settings, build_main(settings), serve_metrics=False))
        try:
            await eventually(lambda: _discovery_errors() - before >= 2, timeout=30)  # tried again, not dead
            assert not service.done()
            await eventually(lambda: _failing(bus, prefix), timeout=10)  # the status says why nothing comes
            admin.http.delete("/faults").raise_for_status()

            async def discovered_and_snapshotted() -> bool:
                messages = [m for _, m in await bus.history(events_stream("main"))]
                return (any(isinstance(m, MarketDiscovered) for m in messages)
                        and {m.token_id for m in messages if isinstance(m, BookSnapshot)} == set(market["token_ids"]))

            await eventually(discovered_and_snapshotted, timeout=30)
            await eventually(lambda: _recovered(bus, prefix), timeout=10)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # run_service's own handler: a clean stop
            assert await asyncio.wait_for(service, 30) == 0


async def _failing(bus, prefix) -> bool:
    health = await _health(bus, prefix)
    return health is not None and health.get("discovery_failures", 0) >= 1


async def _recovered(bus, prefix) -> bool:
    health = await _health(bus, prefix)
    return health is not None and health["discovery_failures"] == 0


async def test_a_dead_socket_read_loop_turns_health_red_and_stops_ingest(bus, redis_url, prefix, tmp_path,
                                                                          monkeypatch):
    die = asyncio.Event()

    async def on_frames(self, raws) -> None:  # a bug in the frame path, once the service is up
        await die.wait()
        raise RuntimeError("frame handler bug")

    monkeypatch.setattr(Feed, "on_frames", on_frames)
    with PaperExchangeServer(admin=True, settlement_delay_secs=0.1) as server:
        admin = Admin(server.url)
        market = admin.create_market()
        settings = _settings(server, redis_url, prefix, tmp_path, market["condition_id"])
        service = asyncio.create_task(run_service("ingest", settings, build_main(settings), serve_metrics=False))
        await eventually(lambda: _health(bus, prefix), timeout=20)
        await eventually(lambda: _subscribed(bus, prefix), timeout=20)  # a socket is up and reading
        die.set()
        admin.house(market["token_ids"][0], "BUY", "0.30", "10")  # a frame after the failure: read, not handled
        assert await asyncio.wait_for(service, 30) == 1
    assert await _health(bus, prefix) is None
    events = read_events(sorted((tmp_path / "logs").glob("events-*.jsonl")))
    died = [e["reason"] for e in events if e["type"] == "task_died"]
    assert died == ["ingest:ws:market-0: RuntimeError: frame handler bug"]
    assert events[-1]["type"] == "shutdown_error"


async def _subscribed(bus, prefix) -> bool:
    health = await _health(bus, prefix)
    return health is not None and health.get("ws", {}).get("connected", 0) >= 1
