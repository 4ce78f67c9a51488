"""The control API against a real Redis: the bearer token on every route but /health, the OpenAPI document,
status as the services report it (unknown when silent), state changes through the control paths with their
actor in the event log, and the kill switch taking effect in a running risk service."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from polydesk.api.app import ROUTES, ApiContext, build_app
from polydesk.api.settings import ApiSettings
from shared import messages as m
from shared.logging import EventLog, read_events
from shared.streams import CONTROL, INTENTS
from tests.helpers import eventually
from tests.risk.helpers import intent
from tests.polydesk.test_positions import db_path  # noqa: F401 - fixture
from tests.risk.test_service import decision_for, publish_market, risk_process  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

TOKEN = "t0ken-for-the-api-tests-0123456789"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _settings(tmp_path, prefix, **extra) -> ApiSettings:
    return ApiSettings(_env_file=None, stream_prefix=prefix, log_dir=tmp_path / "logs",
                       state_dir=tmp_path / "state", api_token=TOKEN, api_confirm_secs=10, **extra)


@pytest.fixture
def api(bus, tmp_path, prefix):
    events = EventLog(tmp_path / "logs", "api")
    app = build_app(ApiContext(_settings(tmp_path, prefix), bus, events, None, "not loaded in tests"), TOKEN)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 4242))
    client = httpx.AsyncClient(transport=transport, base_url="http://api",
                               headers={"Authorization": f"Bearer {TOKEN}"})
    client.log_dir = tmp_path / "logs"  # type: ignore[attr-defined]
    return client


def _calls(log_dir):
    return [e for e in read_events(sorted(log_dir.glob("events-*.jsonl"))) if e["type"] == "api_call"]


def _concrete(path: str) -> str:
    return path.replace("{verdict_id}", "abc")


async def test_every_route_but_health_answers_401_without_the_token(api):
    async with httpx.AsyncClient(transport=api._transport, base_url="http://api") as anonymous:
        for route in ROUTES:
            for method in route.methods - {"HEAD"}:
                for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
                    answer = await anonymous.request(method, _concrete(route.path), headers=headers)
                    expected = 200 if route.path == "/health" else 401
                    assert answer.status_code == expected, (method, route.path, headers)
    assert not _calls(api.log_dir)


async def test_the_openapi_document_lists_every_route(api):
    document = (await api.get("/openapi.json")).json()
    listed = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routes = {(r.path, method) for r in ROUTES for method in r.methods - {"HEAD"}}
    assert listed == routes
    assert document["paths"]["/health"]["get"]["security"] == []


async def test_status_shows_unknown_when_no_service_reports(api):
    status = (await api.get("/status")).json()
    assert status["mode"] == "UNKNOWN" and status["venue"] == "unknown"
    assert status["kill_switch"]["state"] == "unknown" and status["verdict_approval"] == "unknown"
    assert status["pnl_today"]["realized_usd"] == "unknown"
    assert all(s["state"] == "down" for s in status["services"].values())
    assert (await api.get("/kill-switch")).json() == {"state": "unknown"}


async def test_cancel_all_goes_to_the_executor_with_the_caller_in_the_log(api, bus):
    answer = await api.post("/cancel-all", json={"reason": "going home", "market": "0xm"})
    assert answer.status_code == 202
    requests = [c for c in [m.decode(f) for _, f in await bus.redis.xrange(bus.key(CONTROL))]
                if isinstance(c, m.CancelAllRequested)]
    assert len(requests) == 1 and requests[0].market == "0xm" and "going home" in requests[0].reason
    (call,) = _calls(api.log_dir)
    assert call["action"] == "cancel_all" and call["actor"].startswith("api:token-")
    assert call["actor"].endswith("@127.0.0.9") and TOKEN not in str(call)


async def test_bad_bodies_are_refused_with_the_field_and_change_nothing(api, bus):
    answer = await api.post("/kill-switch", json={"active": True})
    assert answer.status_code == 400 and "reason" in answer.json()["error"]
    assert (await api.post("/kill-switch", content=b"{not json")).status_code == 400
    assert await bus.length(CONTROL) == 0 and not _calls(api.log_dir)


async def test_deciding_an_unknown_verdict_is_refused_with_a_reason(api):
    answer = await api.post("/verdicts/nope/approve", json={})
    assert answer.status_code == 409 and "no held verdict nope" in answer.json()["error"]
    assert (await api.get("/verdicts")).json() == {"verdicts": []}


async def test_the_kill_switch_set_through_the_api_stops_a_running_risk(api, bus, risk_process):  # noqa: F811
    risk = risk_process(dry_run="false")
    await risk.start(bus)
    await publish_market(bus)
    answer = await api.post("/kill-switch", json={"active": True, "reason": "phone says stop"})
    assert answer.status_code == 200 and answer.json()["state"] == "on"
    assert answer.json()["actor"].startswith("api:token-")
    status = await eventually(lambda: _on(api), timeout=15)
    assert status["kill_switch"] == {"state": "on", "reason": "phone says stop"}
    refused = intent()
    await bus.publish(INTENTS, refused)
    assert (await decision_for(bus, refused.envelope.message_id)).rule == "KILL_SWITCH"
    answer = await api.post("/kill-switch", json={"active": False, "reason": "all clear"})
    assert answer.status_code == 200 and answer.json()["state"] == "off"
    allowed = intent(key="after")
    await bus.publish(INTENTS, allowed)
    assert (await decision_for(bus, allowed.envelope.message_id)).approved
    risk.stop()
    assert [(c["action"], c["active"]) for c in _calls(api.log_dir)] == [("kill_switch", True), ("kill_switch", False)]


async def _on(api):
    status = (await api.get("/status")).json()
    return status if status["kill_switch"]["state"] == "on" else None


def _run_api(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    clean.update(POLYDESK_ENV_FILE=str(tmp_path / "none.env"), POLYDESK_STATE_DIR=str(tmp_path / "state"),
                 POLYDESK_LOG_DIR=str(tmp_path / "logs"), **env)
    return subprocess.run([sys.executable, "-m", "polydesk", "api"], env=clean, cwd=REPO, capture_output=True,
                          text=True, timeout=30, check=False)


def test_it_refuses_a_non_loopback_address_without_a_token(tmp_path):
    done = _run_api(tmp_path, POLYDESK_API_HOST="0.0.0.0")
    assert done.returncode == 2
    assert "POLYDESK_API_HOST 0.0.0.0 is not a loopback address: set POLYDESK_API_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_short_token_is_refused_without_echoing_it(tmp_path):
    done = _run_api(tmp_path, POLYDESK_API_TOKEN="short-secret")
    assert done.returncode == 2 and "POLYDESK_API_TOKEN: must be at least 16 characters" in done.stderr
    assert "short-secret" not in done.stderr + done.stdout


def test_a_busy_port_is_a_one_line_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = _run_api(tmp_path, POLYDESK_API_PORT=str(taken.getsockname()[1]), POLYDESK_API_TOKEN=TOKEN)
    assert done.returncode == 2 and "POLYDESK_API_PORT: cannot listen on" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.processes
def test_polydesk_api_serves_with_a_generated_token_that_never_reaches_a_log(tmp_path, redis_url, prefix):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYDESK_")}
    clean.update(POLYDESK_ENV_FILE=str(tmp_path / "none.env"), POLYDESK_STATE_DIR=str(tmp_path / "state"),
                 POLYDESK_LOG_DIR=str(tmp_path / "logs"), POLYDESK_API_PORT="0", POLYDESK_REDIS_URL=redis_url,
                 POLYDESK_STREAM_PREFIX=prefix)
    process = subprocess.Popen([sys.executable, "-m", "polydesk", "api"], env=clean, cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = process.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        token_path = tmp_path / "state" / "api-token"
        assert oct(token_path.stat().st_mode & 0o777) == "0o600"
        token = token_path.read_text().strip()
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/status").status_code == 401
        answer = httpx.post(f"{url}/cancel-all", headers={"Authorization": f"Bearer {token}"}, json={})
        assert answer.status_code == 202
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert token not in line + output
    logged = "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    assert "api_call" in logged and token not in logged


async def test_positions_come_from_risks_ledger_and_an_unknown_venue_stays_unknown(bus, tmp_path, prefix,
                                                                                     db_path):  # noqa: F811
    from services.risk.config import RiskSettings

    risk = RiskSettings(_env_file=None, stream_prefix=prefix, state_dir=tmp_path / "state", risk_db_path=db_path)
    events = EventLog(tmp_path / "logs", "api")
    app = build_app(ApiContext(_settings(tmp_path, prefix), bus, events, risk), TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = await client.get("/positions")
    assert answer.status_code == 200
    report = answer.json()
    assert [(t["settled"], t["provisional"]) for t in report["tokens"]] == [("20", "0"), ("0", "10")]
    assert report["cash_venue"] is None and report["venue_errors"] == ["venue not configured"]
    no_risk = build_app(ApiContext(_settings(tmp_path, prefix), bus, events, None, "POLYDESK_X: bad"), TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=no_risk), base_url="http://api",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        refused = await client.get("/positions")
    assert refused.status_code == 503 and refused.json() == {"error": "risk settings: POLYDESK_X: bad"}


async def test_todays_fills_each_at_its_newest_status(api, bus):
    from shared.streams import FILLS
    from tests.risk.helpers import fill

    for trade, status in (("t1", m.TradeStatus.MATCHED), ("t2", m.TradeStatus.MATCHED),
                          ("t1", m.TradeStatus.CONFIRMED)):
        await bus.publish(FILLS, fill(trade, status))
    answer = (await api.get("/fills")).json()
    assert sorted((f["trade_id"], f["status"]) for f in answer["fills"]) == [("t1", "CONFIRMED"), ("t2", "MATCHED")]
    assert answer["pnl_today"]["realized_usd"] == "unknown"  # risk is not running: not a guess of 0
